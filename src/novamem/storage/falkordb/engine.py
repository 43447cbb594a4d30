"""FalkorDB as the deployment's graph index: the connection, its reads and its outbox sink, built together."""

from __future__ import annotations

from dataclasses import dataclass

from novamem.storage.falkordb.graphs import FalkorGraphs
from novamem.storage.falkordb.reader import FalkorGraphReader
from novamem.storage.falkordb.sink import FalkorGraphSink
from novamem.storage.graph_index import GraphSource

__all__ = ["FalkorGraphEngine"]


@dataclass(frozen=True, slots=True)
class FalkorGraphEngine:
    """One FalkorDB server: `reader` answers graph reads, `sink` applies `graph` outbox items (and rebuilds)."""

    graphs: FalkorGraphs
    reader: FalkorGraphReader
    sink: FalkorGraphSink

    @classmethod
    def connect(cls, url: str, *, timeout_s: float, source: GraphSource) -> FalkorGraphEngine:
        """Set up the client (connections open lazily, so a FalkorDB that is down never stops a start)."""
        graphs = FalkorGraphs(url, timeout_s=timeout_s)
        return cls(graphs=graphs, reader=FalkorGraphReader(graphs, source), sink=FalkorGraphSink(graphs, source))

    async def close(self) -> None:
        """Close the client's connections."""
        await self.graphs.close()
