"""The FalkorDB graph signal reads namespace memberships: a node is a candidate in every namespace it was
stored under (`namespaces`), and a node written before memberships existed (only `namespace`) still is."""

from __future__ import annotations

from novamem.domain.scope import ReadScope
from novamem.storage.falkordb.graphs import FalkorGraphs
from novamem.storage.falkordb.reader import FalkorGraphReader
from novamem.storage.falkordb.sink import _UPSERT_NODES, _node_params
from novamem.storage.graph_index import GraphNode
from tests.falkordb.conftest import FalkorProcess

TENANT = "memberships"


def _node(entry_id: str, namespace: str, namespaces: tuple[str, ...]) -> GraphNode:
    return GraphNode(
        id=entry_id,
        user_id="u1",
        project_id=None,
        scope_key="u:u1",
        namespace=namespace,
        organization_id=None,
        cold=False,
        status="active",
        entities=(),
        namespaces=namespaces,
    )


async def test_the_graph_signal_follows_memberships(falkordb: FalkorProcess) -> None:
    graphs = FalkorGraphs(falkordb.url, timeout_s=5)
    reader = FalkorGraphReader(graphs, source=None)  # type: ignore[arg-type] # no hydration in these calls
    try:
        nodes = [_node("a", "conv-a", ("conv-a", "conv-b")), _node("b", "conv-b", ("conv-b",))]
        params = {"nodes": [_node_params(n) for n in nodes]}
        await graphs.run(TENANT, _UPSERT_NODES, params)
        await graphs.run(TENANT, "MATCH (m:Memory {id: 'old'}) DELETE m", {})
        await graphs.run(TENANT, "CREATE (:Memory {id: 'old', user_id: 'u1', namespace: 'conv-b'})", {})
        await graphs.run(
            TENANT,
            "MATCH (a:Memory {id: 'a'}), (b:Memory {id: 'b'}), (o:Memory {id: 'old'})"
            " CREATE (a)-[:RELATES {relation: 'co_occurs', strength: 0.9}]->(b),"
            " (o)-[:RELATES {relation: 'co_occurs', strength: 0.5}]->(b)",
            {},
        )

        def scope(*namespaces: str) -> ReadScope:
            return ReadScope(tenant_id=TENANT, user_id="u1", namespaces=namespaces)

        ids = ["a", "b", "old"]
        assert await reader.links(scope("conv-b"), ids) == {"a": 0.9, "b": 0.9, "old": 0.5}
        assert await reader.links(scope("conv-a"), ids) == {}  # only `a` is in conv-a: no pair
        assert await reader.links(scope("conv-c"), ids) == {}
    finally:
        await graphs.drop(TENANT)
        await graphs.close()
