"""The graph view: a seed memory's neighbours (`POST /v1/neighbors`, depth 1-3) drawn around it as SVG.

Every neighbour is a link that recentres the view on it; the same neighbours are listed in a table. The
neighbours are looked up in the seed's own project (edges never cross scopes), so a seed in a project that is
not the active one still shows its links.
"""

from __future__ import annotations

from starlette.responses import Response

from novamem.errors import NotFound
from novamem.services.memory.models import MemoryDetail, NeighborsRequest, RecentRequest
from novamem.web.forms import Form
from novamem.web.graph import circle_layout, short_label
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["GRAPH", "GRAPH_NEIGHBOURS", "SCREENS"]

GRAPH = "/admin/graph"
GRAPH_NEIGHBOURS = 16  # k: how many neighbours one view draws
_PICKER = 20  # recent memories offered as seeds


async def _seed(visit: Visit, form: Form[NeighborsRequest]) -> MemoryDetail | None:
    """The seed memory, or None (and an error next to the seed field) when it is not one of yours."""
    if form.model is None:
        return None
    try:
        return await visit.container.recall.entry(visit.caller, form.model.id)
    except NotFound as exc:
        form.fail(exc, "id")
        return None


async def graph_page(visit: Visit) -> Response:
    """Pick a seed (recent memories), then its neighbours as a circle, a table and an inspector card."""
    fields = {"depth": "1", "k": str(GRAPH_NEIGHBOURS), **visit.query}
    form = Form.submitted(NeighborsRequest, {**fields, "id": fields.get("seed", "")}) if "seed" in fields else None
    seed = await _seed(visit, form) if form is not None else None
    neighbours = layout = None
    if form is not None and form.model is not None and seed is not None:
        request = form.model.model_copy(update={"project": seed.project})
        neighbours = await visit.container.recall.neighbors(visit.caller, request)
        layout = circle_layout([(n.id, n.content or "", n.score, n.tier) for n in neighbours.results])
    recent = await visit.container.recall.recent(visit.caller, RecentRequest(k=_PICKER, content_mode="snippet"))
    choices = [(view.id, short_label(view.content or view.id, 70)) for view in recent.results]
    if seed is not None and seed.id not in {choice for choice, _ in choices}:
        choices.insert(0, (seed.id, short_label(seed.content, 70)))
    return visit.render(
        "graph.html",
        status=form.status if form is not None else 200,
        form=form or Form[NeighborsRequest].blank(depth="1"),
        seed=seed,
        neighbours=neighbours,
        layout=layout,
        choices=choices,
        depth=form.value("depth") if form is not None else "1",
    )


SCREENS = (Screen(GRAPH, graph_page, ("POST", "/v1/neighbors")),)
