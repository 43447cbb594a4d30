"""Retrieval described as data: signal weights and the knobs of fusion, with named presets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_GRAPH_WEIGHT", "DEFAULT_TIME_WEIGHT", "DEFAULT_WEIGHTS", "PRESETS", "SearchWeights", "Strategy"]

# chosen on LoCoMo with each turn's session date as `occurredAt`: recall@10 rises up to 0.3 and no further
# (docs/benchmarks.md, "Time on LoCoMo")
DEFAULT_TIME_WEIGHT = 0.3
DEFAULT_GRAPH_WEIGHT = 0.2


class SearchWeights(BaseModel):
    """How much each retrieval signal counts in the fused score (0 switches a signal off)."""

    model_config = ConfigDict(frozen=True)

    keyword: float = Field(0.45, ge=0, le=10)
    vector: float = Field(0.45, ge=0, le=10)
    # chosen on LoCoMo and the agent benchmark together (docs/benchmarks.md, "The graph signal"): 0.2 lifts
    # both; LoCoMo peaks near 0.3, where the agent benchmark starts to lose. Above 0, the graph stage also
    # puts the later version of a fact first
    graph: float = Field(DEFAULT_GRAPH_WEIGHT, ge=0, le=10)
    recency: float = Field(0.05, ge=0, le=10)
    entity: float = Field(0.05, ge=0, le=10)
    # a boost, not a filter: memories that happened inside the time a query names ("last year", "in May
    # 2023", "3 days ago"), or that carry an `occurredAt` when it asks "when"; inert for other queries
    time: float = Field(DEFAULT_TIME_WEIGHT, ge=0, le=10)

    def merged(self, overrides: dict[str, float] | None) -> SearchWeights:
        if not overrides:
            return self
        return self.model_copy(update={k: v for k, v in overrides.items() if v is not None})


class Strategy(BaseModel):
    """A full retrieval strategy: weights plus candidate and diversification settings."""

    model_config = ConfigDict(frozen=True)

    weights: SearchWeights = SearchWeights()
    overfetch: int = Field(3, ge=1, le=20)
    min_candidates: int = Field(50, ge=1)
    diversity_jaccard: float = Field(0.75, gt=0, le=1)
    # the share of redundancy in maximal marginal relevance (`domain.ranking.diversify`): chosen on LoCoMo
    # and the agent benchmark together (docs/benchmarks.md, "Novelty"); 0 keeps the fused order
    novelty: float = Field(0.3, ge=0, lt=1)
    recency_half_life_days: float = 180.0


DEFAULT_WEIGHTS = SearchWeights()
PRESETS: dict[str, Strategy] = {
    "hybrid": Strategy(),
    "keyword": Strategy(weights=SearchWeights(keyword=1, vector=0, graph=0, recency=0, entity=0, time=0)),
    "vector": Strategy(weights=SearchWeights(keyword=0, vector=1, graph=0, recency=0, entity=0, time=0)),
}
