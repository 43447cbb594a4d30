"""The read path: hybrid search, the context pack, recent entries, graph neighbours and stats."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from novamem.domain.entries import MemoryEntry, Sensitivity, iso, now_utc
from novamem.domain.linking import Link, newest_first, seed_weights
from novamem.domain.ranking import (
    NOVELTY_POOL,
    Candidate,
    diversify,
    entity_score,
    fact_weight,
    fit_budget,
    fuse,
    query_entities,
    rank_prior,
    recency,
)
from novamem.domain.scope import Caller, ReadScope
from novamem.domain.text import content_tokens, snippet
from novamem.domain.timeframe import TimeIntent, time_intent, time_score
from novamem.error_messages import CONTEXT_DEGRADED, NO_SUCH_MEMORY, SEARCH_DEGRADED
from novamem.errors import NotFound, Unavailable
from novamem.search.presets import PRESETS, Strategy
from novamem.services.identity.access import UNSET, AccessPolicy, Unset
from novamem.services.memory.graph_signal import GraphExpansion, expansion_cut
from novamem.services.memory.hits import HIT_WINDOW_S, HitBuffer
from novamem.services.memory.memories import EmbedderState
from novamem.services.memory.models import (
    BrowsePage,
    BrowseRequest,
    ContextPack,
    ContextRequest,
    ContextResponse,
    MemoryDetail,
    MemoryView,
    NamespaceStats,
    NeighborsRequest,
    PackItem,
    RecentRequest,
    RecentResponse,
    ScopeIn,
    SearchRequest,
    SearchResponse,
    StatsResponse,
    TodayRequest,
    WeightsIn,
)
from novamem.services.memory.stages import RetrievalStages
from novamem.services.operations.metrics import Counter, MetricsService
from novamem.storage.base import AccessCount, BrowseFilter, MemoryStore, Neighbor, VectorHits
from novamem.storage.graph_index import GraphLinks, GraphReader
from novamem.storage.vector_index import VectorIndex

__all__ = [
    "DegradedEmpty",
    "GUIDANCE",
    "RecallService",
    "TODAY_WINDOW",
]

log = logging.getLogger("novamem.recall")

GUIDANCE = (
    "Answer from contextPack first. When the user asks for a recommendation, use their stored "
    "preferences and say so; never invent a preference that is not stored. Do not ask the user to "
    "repeat something until a targeted memory_search for it has also come back empty."
)
RECENT_IN_CONTEXT = 10
TODAY_WINDOW = timedelta(hours=24)
_PITFALL = re.compile(r"\b(pitfall|warning|avoid|do not|don't|must not|gotcha)\b", re.I)
_DECISION_WORD = re.compile(r"\bdecision\b", re.I)
VECTOR_INDEX_WARN_EVERY_S = 60.0


class DegradedEmpty(Unavailable):
    """A search or context that found nothing while a signal was down: "could not look", not "nothing there".

    It carries the answer, which REST still sends (with `error` added) alongside the 503.
    """

    def __init__(self, message: str, answer: SearchResponse | ContextResponse) -> None:
        super().__init__(message)
        self.answer = answer

    def to_wire(self) -> dict[str, Any]:
        """The answer's wire JSON plus `error`."""
        return {**self.answer.to_wire(), "error": self.message}


def render(entry: MemoryEntry, mode: str = "full", *, signals: bool = True) -> MemoryView:
    """The wire view of an entry under a content mode."""
    content: str | None = entry.content
    truncated: bool | None = None
    metadata: dict[str, Any] | None = entry.metadata
    if mode == "snippet":
        content, cut = snippet(entry.content)
        truncated = cut or None
    elif mode == "ids":
        content, metadata = None, None
    return MemoryView(
        id=entry.id,
        score=round(entry.score, 6),
        content=content,
        tier="cold" if entry.cold else "warm",
        namespace=entry.namespace,
        project=entry.project_id,
        source=entry.source,
        metadata=metadata,
        signals={name: round(value, 6) for name, value in entry.signals.items()} if signals else None,
        truncated=truncated,
        occurred_at=iso(entry.occurred_at),
    )


def detail(entry: MemoryEntry, access: AccessCount | None) -> MemoryDetail:
    """Everything stored about an entry; its sensitivity is the stamped label (missing: private)."""
    label = entry.metadata.get("sensitivity")
    level = Sensitivity.parse(label if isinstance(label, str) else None) or Sensitivity.PRIVATE
    return MemoryDetail(
        id=entry.id,
        content=entry.content,
        tier="cold" if entry.cold else "warm",
        namespace=entry.namespace,
        project=entry.project_id,
        source=entry.source,
        agent_name=entry.agent_name,
        sensitivity=level.label,
        source_type=entry.source_type,
        captured_from=entry.captured_from,
        confidence=entry.confidence,
        status=entry.status.value,
        created_at=iso(entry.created_at),
        updated_at=iso(entry.updated_at),
        expires_at=iso(entry.expires_at),
        occurred_at=iso(entry.occurred_at),
        hits=access.hits if access else 0,
        last_accessed_at=iso(access.last_accessed) if access else None,
        metadata=entry.metadata,
    )


@dataclass(frozen=True, slots=True)
class _Signals:
    """What one query scores candidates by, apart from the store's keyword and vector scores."""

    entities: list[str]
    when: TimeIntent | None
    now: datetime
    half_life_days: float
    # each entry's signals apart from the graph's, by id: a search scores its first-stage entries again
    # after the graph stage, with the same keyword and vector scores
    _known: dict[str, dict[str, float]] = field(default_factory=dict)

    def candidates(
        self,
        entries: list[MemoryEntry],
        kscores: dict[str, float],
        vscores: dict[str, float],
        graph: dict[str, float],
    ) -> list[Candidate]:
        """A candidate per entry; an entry seen before keeps the keyword and vector scores it had then."""
        cands = []
        for entry in entries:
            base = self._known.get(entry.id)
            if base is None:
                # recency counts from when the thing happened, when the memory knows it
                moment = entry.occurred_at or entry.updated_at
                base = {"recency": recency(moment, self.now, self.half_life_days)}
                if self.when is not None:
                    base["time"] = time_score(self.when, entry.occurred_at, entry.created_at)
                if entry.id in kscores:
                    base["keyword"] = kscores[entry.id]
                if entry.id in vscores:
                    base["vector"] = vscores[entry.id]
                if self.entities:
                    base["entity"] = entity_score(self.entities, entry.content)
                self._known[entry.id] = base
            raw = {**base, "graph": graph[entry.id]} if entry.id in graph else base
            cands.append(Candidate(id=entry.id, raw=raw))
        return cands


class RecallService:
    """Finds memories for a caller."""

    def __init__(
        self,
        store: MemoryStore,
        embedder: EmbedderState,
        access: AccessPolicy,
        *,
        min_vector_score: float,
        strategy: Strategy | None = None,
        metrics: MetricsService | None = None,
        vectors: VectorIndex | None = None,
        links: GraphLinks | None = None,
        graph_index: GraphReader | None = None,
        stages: RetrievalStages | None = None,
        hit_window: float = HIT_WINDOW_S,
    ) -> None:
        """`vectors`: the vector index that answers the vector phase (None: PostgreSQL's pgvector does);
        `links`: the links the graph signal expands along (None: no graph signal); `graph_index`: the
        derived graph that answers neighbour walks (None: PostgreSQL's own walk does);
        `stages`: the optional reranker and query decomposer (None: neither); `hit_window`: seconds hits
        wait to be written together (`HitBuffer`)."""
        self._store = store
        self._stages = stages or RetrievalStages()
        self._vectors = vectors
        self._vectors_warned_at = 0.0
        # neighbour walks: the derived index (FalkorDB) when configured, PostgreSQL's own walk otherwise and
        # whenever the index cannot answer; the graph signal always expands along PostgreSQL's links
        self._expansion = GraphExpansion(links) if links is not None else None
        self._graph_index = graph_index
        self._graph_warned_at = 0.0
        self._metrics = metrics or MetricsService(None)
        self._access = access
        self._embedder = embedder
        self._min_vector_score = min_vector_score
        self._strategy = strategy or PRESETS["hybrid"]
        self._started = time.monotonic()
        self._background: set[asyncio.Task[None]] = set()
        self._hits = HitBuffer(store, window=hit_window)

    async def _ranked(
        self,
        scope: ReadScope,
        query: str,
        k: int,
        weights_in: WeightsIn | None,
        min_vector_score: float | None,
        rerank: bool | None = False,
    ) -> tuple[list[MemoryEntry], bool]:
        """Fused, prior-adjusted, reranked (when asked), diversified candidates (no budget yet), degraded flag."""
        strategy = self._strategy
        weights = strategy.weights.merged(weights_in.model_dump(exclude_none=True) if weights_in else None)
        degraded = False
        vector = None
        limit = max(k * strategy.overfetch, strategy.min_candidates)
        # the keyword phase needs no vector: it runs in the database while the query is embedded, and the
        # vector phase then runs beside it on a connection of its own
        keyword_task = (
            asyncio.create_task(self._store.keyword_hits(scope, query=query, limit=limit))
            if weights.keyword > 0
            else None
        )
        vector_hits: VectorHits | None = None
        try:
            if weights.vector > 0:
                vector = await self._embedder.query(query)
                degraded = vector is None and self._embedder.embedder is not None
            if vector is not None:
                vector_hits, index_down = await self._nearest(scope, vector, limit)
                degraded = degraded or index_down
            hits = await keyword_task if keyword_task is not None else None
        finally:
            if keyword_task is not None and not keyword_task.done():
                keyword_task.cancel()
        entries, kscores, vscores = await self._store.hydrate(
            scope, keyword=hits, query_vector=vector, limit=limit, vector_hits=vector_hits
        )
        now = now_utc()
        intent = time_intent(query, now)
        signals = _Signals(
            entities=query_entities(query),
            when=intent if weights.time > 0 else None,
            now=now,
            half_life_days=strategy.recency_half_life_days,
        )
        floor = self._min_vector_score if min_vector_score is None else min_vector_score
        by_id = {e.id: e for e in entries}
        tokens: dict[str, set[str]] = {}  # content tokens by id, made while a statement runs
        fused = fuse(signals.candidates(entries, kscores, vscores, {}), weights, min_vector_score=floor)
        between: list[Link] = []
        if weights.graph > 0 and self._expansion is not None and fused:
            # second stage: expand from the strongest hits, score what was reached, fuse again
            seeds = seed_weights([(c.id, c.score) for c in fused])
            expansion = asyncio.create_task(
                self._expansion.expand(
                    scope, seeds, {i: by_id[i].content for i in seeds}, [c.id for c in fused[:limit]]
                )
            )
            try:
                # while the database reads the links, tokenize the likely results for the novelty pick (about
                # a millisecond at 100k that no longer waits after the graph stage)
                await asyncio.sleep(0)  # the expansion runs until it has sent its statement
                for cand in fused[: NOVELTY_POOL * k]:
                    tokens[cand.id] = content_tokens(by_id[cand.id].content)
                found = await expansion
            finally:
                if not expansion.done():  # this search was cancelled first
                    expansion.cancel()
            between = found.between
            fresh = expansion_cut(found.scores, set(by_id))
            if fresh and vector is not None:
                more, more_k, more_v = await self._store.hydrate(
                    scope,
                    keyword=hits and hits.statistics(),
                    query_vector=vector,
                    limit=len(fresh),
                    vector_hits=VectorHits(ids=fresh),
                )
                entries = entries + [e for e in more if e.id not in by_id]
                by_id.update((e.id, e) for e in more)
                kscores, vscores = {**more_k, **kscores}, {**more_v, **vscores}
            fused = fuse(signals.candidates(entries, kscores, vscores, found.scores), weights, min_vector_score=floor)
        fused = fused[:limit]
        scores = {
            c.id: c.score
            * rank_prior(by_id[c.id].confidence, by_id[c.id].memory_type, by_id[c.id].created_at, now)
            * fact_weight(by_id[c.id].metadata)
            for c in fused
        }
        if intent is None:
            # a question about the present (it names no time and does not ask "when"): the later of two
            # versions of one fact goes first (relations read by the graph stage only)
            scores = newest_first(scores, between, {i: e.occurred_at or e.created_at for i, e in by_id.items()})
        ranked: list[MemoryEntry] = []
        for cand in fused:
            entry = by_id[cand.id]
            entry.score = scores[cand.id]
            entry.signals = cand.signals
            ranked.append(entry)
        ranked.sort(key=lambda e: e.score, reverse=True)
        ranked, rerank_failed = await self._stages.rerank(query, ranked, k, rerank)
        degraded = degraded or rerank_failed
        chosen = diversify(
            ranked,
            lambda e: e.content,
            k,
            strategy.diversity_jaccard,
            score_of=lambda e: e.score,
            novelty=strategy.novelty,
            tokens_of=lambda e: tokens[e.id] if e.id in tokens else content_tokens(e.content),
        )
        return chosen, degraded

    async def _nearest(self, scope: ReadScope, vector: list[float], limit: int) -> tuple[VectorHits, bool]:
        """The vector phase's candidates, and whether the vector index was down.

        The vector index answers when one is configured; pgvector answers otherwise, and whenever the index
        cannot (the search then says it is degraded; logged at most once a minute).
        """
        if self._vectors is not None:
            try:
                return VectorHits(ids=await self._vectors.nearest(scope, vector, limit)), False
            except Unavailable as exc:
                if time.monotonic() - self._vectors_warned_at > VECTOR_INDEX_WARN_EVERY_S:
                    self._vectors_warned_at = time.monotonic()
                    log.warning("vector index unavailable, searching pgvector instead: %s", exc.message)
                return await self._store.vector_nearest(scope, vector, limit), True
        return await self._store.vector_nearest(scope, vector, limit), False

    def _graph_down(self, exc: Unavailable) -> None:
        if time.monotonic() - self._graph_warned_at > VECTOR_INDEX_WARN_EVERY_S:
            self._graph_warned_at = time.monotonic()
            log.warning("graph index unavailable, reading PostgreSQL's graph instead: %s", exc.message)

    async def _walk(self, scope: ReadScope, seed: MemoryEntry, depth: int, k: int) -> tuple[list[Neighbor], bool]:
        """Neighbours of the seed, and whether PostgreSQL answered because the graph index could not."""
        if self._graph_index is not None:
            try:
                return await self._graph_index.neighbors(scope, seed, depth, k), False
            except Unavailable as exc:
                self._graph_down(exc)
                return await self._store.neighbors(scope, seed, depth, k), True
        return await self._store.neighbors(scope, seed, depth, k), False

    def _bump(self, tenant_id: str, ids: list[str]) -> None:
        """Count hits and promote cold hits in the background, batched per window (`HitBuffer`); failures
        are logged, never raised. The flusher is in `_background` while hits are pending or being written."""
        task = self._hits.add(tenant_id, ids)
        if task is not None:
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Write the pending hits now (a graceful stop loses none)."""
        await self._hits.close()

    async def search(self, caller: Caller, req: SearchRequest) -> SearchResponse:
        """Hybrid search (keyword, vector, graph, recency, entity, time) within the request's scope.

        Raises `DegradedEmpty` when a signal was down and nothing was found.
        """
        agent = req.agent_name if "agent_name" in req.model_fields_set else UNSET
        with self._metrics.failures(caller.tenant_id, Counter.SEARCH_ERRORS):
            scope = await self._scope(caller, req, agent_filter=agent)
            chosen, degraded = await self._stages.recall(
                req.query,
                req.k,
                lambda q, rr: self._ranked(scope, q, req.k, req.weights, req.min_vector_score, rr),
                rerank=req.rerank,
                decompose=req.decompose,
                diversity=self._strategy.diversity_jaccard,
            )
        chosen = fit_budget(chosen, lambda e: e.content, req.max_tokens)
        self._metrics.searched(caller.tenant_id, chosen, degraded=degraded)
        self._bump(caller.tenant_id, [e.id for e in chosen])
        answer = SearchResponse(results=[render(e, req.content_mode) for e in chosen], degraded=degraded)
        if degraded and not chosen:
            raise DegradedEmpty(SEARCH_DEGRADED, answer)
        return answer

    async def recent(self, caller: Caller, req: RecentRequest) -> RecentResponse:
        """Newest memories first (since `req.since` when given); never promotes cold entries."""
        with self._metrics.failures(caller.tenant_id, Counter.SEARCH_ERRORS):
            scope = await self._scope(caller, req)
            entries = await self._store.recent(scope, req.k, req.since)
        self._metrics.count(caller.tenant_id, Counter.QUERIES)
        for e in entries:
            e.score = 1.0
        return RecentResponse(results=[render(e, req.content_mode, signals=False) for e in entries])

    async def today(self, caller: Caller, req: TodayRequest) -> RecentResponse:
        """`recent` over the last 24 hours (the window is `TODAY_WINDOW`)."""
        since = now_utc() - TODAY_WINDOW
        return await self.recent(caller, RecentRequest(**req.model_dump(), since=since))

    async def context(self, caller: Caller, req: ContextRequest) -> ContextResponse:
        """What an agent should read before answering: relevant, recent, the grouped pack and guidance.

        Raises `DegradedEmpty` when a signal was down and nothing relevant was found.
        """
        with self._metrics.failures(caller.tenant_id, Counter.SEARCH_ERRORS):
            scope = await self._scope(caller, req)
            chosen, degraded = await self._stages.recall(
                req.message,
                req.k,
                lambda q, rr: self._ranked(scope, q, req.k, req.weights, None, rr),
                rerank=req.rerank,
                decompose=req.decompose,
                diversity=self._strategy.diversity_jaccard,
            )
            chosen = fit_budget(chosen, lambda e: e.content, req.max_tokens)
            recent = await self._store.recent(scope, min(req.k, RECENT_IN_CONTEXT), None)
        self._metrics.searched(caller.tenant_id, chosen, degraded=degraded)
        for e in recent:
            e.score = 1.0
        self._bump(caller.tenant_id, [e.id for e in chosen])
        answer = ContextResponse(
            relevant=SearchResponse(results=[render(e) for e in chosen], degraded=degraded),
            recent=RecentResponse(results=[render(e, signals=False) for e in recent]),
            context_pack=context_pack(chosen, recent),
            guidance=GUIDANCE,
        )
        if degraded and not chosen:
            raise DegradedEmpty(CONTEXT_DEGRADED, answer)
        return answer

    async def neighbors(self, caller: Caller, req: NeighborsRequest) -> SearchResponse:
        """Memories linked to a seed through live edges, up to `req.depth` hops; `degraded` when the graph
        index could not answer and PostgreSQL did."""
        with self._metrics.failures(caller.tenant_id, Counter.SEARCH_ERRORS):
            scope = await self._access.read_scope(
                caller,
                project=req.project,
                include_projects=req.include_projects,
                max_sensitivity=req.max_sensitivity,
            )
            seed = await self._store.get(scope, req.id)
            found, degraded = await self._walk(scope, seed, req.depth, req.k) if seed is not None else ([], False)
        self._metrics.count(caller.tenant_id, Counter.QUERIES)
        self._metrics.count(caller.tenant_id, Counter.HITS_GRAPH, len(found))
        views = []
        for n in found:
            n.entry.score = n.score
            n.entry.signals = {"graph": round(n.score, 6)}
            views.append(render(n.entry))
        return SearchResponse(results=views, degraded=degraded)

    async def browse(self, caller: Caller, req: BrowseRequest) -> BrowsePage:
        """A page of live memories in the request's read scope, newest first, with the cursors around it.

        Scope as `recent` (the named project, else user-global plus the active project); `sensitivity`
        asks for exactly one level and lifts the ceiling to it, so an owner can list their sensitive ones.
        """
        agent = req.agent_name if "agent_name" in req.model_fields_set else UNSET
        ceiling = req.sensitivity or req.max_sensitivity
        scope = await self._access.read_scope(
            caller,
            namespace=req.namespace,
            include_namespaces=req.include_namespaces,
            project=req.project,
            include_projects=req.include_projects,
            max_sensitivity=ceiling,
            agent_filter=agent,
        )
        level = Sensitivity.parse(req.sensitivity)
        page = BrowseFilter(
            source=req.source,
            cold=None if req.tier is None else req.tier == "cold",
            sensitivity=None if level is None else int(level),
            before=req.before,
            after=req.after,
        )
        rows = await self._store.browse(scope, page, req.limit + 1)
        more = len(rows) > req.limit
        if req.after is not None:  # going back: the extra row is the newest, beyond this page
            entries = rows[1:] if more else rows
            newer, older = more, True
        else:
            entries = rows[: req.limit]
            newer, older = req.before is not None, more
        self._metrics.count(caller.tenant_id, Counter.QUERIES)
        counts = await self._store.access_counts(caller.tenant_id, [e.id for e in entries])
        return BrowsePage(
            entries=[detail(e, counts.get(e.id)) for e in entries],
            next_before=entries[-1].id if older and entries else None,
            previous_after=entries[0].id if newer and entries else None,
        )

    async def entry(self, caller: Caller, entry_id: str) -> MemoryDetail:
        """One memory the caller could change (theirs, or a project's they belong to), whatever its state.

        Raises NotFound for an id that does not exist and for one outside the caller's scope alike.
        """
        scope = await self._access.entry_scope(caller, None)
        entry = await self._store.get(scope, entry_id)
        if entry is None:
            raise NotFound(NO_SUCH_MEMORY)
        counts = await self._store.access_counts(caller.tenant_id, [entry.id])
        return detail(entry, counts.get(entry.id))

    async def stats(self, caller: Caller) -> StatsResponse:
        """Warm/cold counts per namespace over the caller's memories, the last decay and the uptime."""
        scope = await self._access.account_scope(caller)
        counts = await self._store.namespace_counts(scope)
        by_ns = {ns: NamespaceStats(warm=w, cold=c) for ns, (w, c) in counts.by_namespace.items()}
        return StatsResponse(
            by_namespace=by_ns,
            total_warm=counts.total[0],
            total_cold=counts.total[1],
            last_decay_at=iso(counts.last_decay_at),
            uptime_ms=int((time.monotonic() - self._started) * 1000),
        )

    async def _scope(self, caller: Caller, req: ScopeIn, agent_filter: str | None | Unset = UNSET) -> ReadScope:
        """The read scope of a request's common scope fields."""
        return await self._access.read_scope(
            caller,
            namespace=req.namespace,
            include_namespaces=req.include_namespaces,
            project=req.project,
            include_projects=req.include_projects,
            max_sensitivity=req.max_sensitivity,
            agent_filter=agent_filter,
        )


def _pack_item(entry: MemoryEntry) -> PackItem:
    return PackItem(
        id=entry.id,
        content=entry.content,
        namespace=entry.namespace,
        project=entry.project_id,
        memory_type=entry.memory_type,
        tier="cold" if entry.cold else "warm",
    )


def context_pack(relevant: list[MemoryEntry], recent: list[MemoryEntry]) -> ContextPack:
    """Group relevant and recent memories by what they are about, for an agent's prompt."""
    merged: dict[str, MemoryEntry] = {}
    for entry in [*relevant, *recent]:
        merged[entry.id] = entry
    recent_ids = {e.id for e in recent}
    groups: dict[str, list[PackItem]] = {
        name: []
        for name in (
            "userGlobal",
            "projectScoped",
            "userPreferences",
            "currentSetup",
            "projectConventions",
            "decisions",
            "bugRootCauses",
            "deploymentState",
            "safetyConstraints",
            "pitfalls",
            "recentDecisions",
            "all",
        )
    }
    for entry in merged.values():
        item, kind, ns = _pack_item(entry), entry.memory_type, entry.namespace
        groups["projectScoped" if entry.project_id else "userGlobal"].append(item)
        rules = {
            "userPreferences": kind == "user_preference" or ns == "user",
            "currentSetup": kind in {"setup_fact", "deployment_state"} or ns in {"current-setup", "setup"},
            "projectConventions": kind == "project_convention" or ns == "project-conventions",
            "decisions": kind == "decision" or ns == "decisions",
            "bugRootCauses": kind == "bug_root_cause" or ns == "root-causes",
            "deploymentState": kind == "deployment_state",
            "safetyConstraints": kind == "safety_constraint" or ns == "safety",
            "pitfalls": bool(_PITFALL.search(entry.content)),
            "recentDecisions": entry.id in recent_ids
            and (kind == "decision" or bool(_DECISION_WORD.search(entry.content))),
        }
        for name, hit in rules.items():
            if hit:
                groups[name].append(item)
        groups["all"].append(item)
    return ContextPack.model_validate(groups)
