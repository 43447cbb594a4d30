"""What happened lately: today's activity (`GET /v1/me/today`) and the change feed (`GET /v1/me/changes`)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response

from novamem.services.memory.selfservice_models import ChangesQuery
from novamem.web.forms import Form
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = ["CHANGES", "CHANGES_PAGE", "SCREENS", "TODAY"]

TODAY = "/admin/today"
CHANGES = "/admin/changes"
CHANGES_PAGE = 50  # changes per page unless the query asks otherwise


async def today_page(visit: Visit) -> Response:
    """The last 24 hours: new memories, tokens minted, project joins, audit entries naming you."""
    today = await visit.container.selfservice.today(visit.caller)
    return visit.render("today.html", today=today)


async def changes_page(visit: Visit) -> Response:
    """Created, updated, superseded, deleted and expired events, oldest first; page on with `afterSeq`."""
    fields = {"limit": str(CHANGES_PAGE), **visit.query}
    form = Form.submitted(ChangesQuery, fields)
    feed = more = None
    if form.model is not None:
        query = form.model
        feed = await visit.container.selfservice.changes(
            visit.caller, since=query.since, after_seq=query.after_seq, limit=query.limit
        )
        if len(feed.changes) == query.limit and feed.next_seq is not None:
            kept = {name: value for name, value in fields.items() if value and name != "afterSeq"}
            more = f"{CHANGES}?{urlencode({**kept, 'afterSeq': feed.next_seq})}"
    return visit.render("changes.html", status=form.status, form=form, feed=feed, more=more)


SCREENS = (
    Screen(TODAY, today_page, ("GET", "/v1/me/today")),
    Screen(CHANGES, changes_page, ("GET", "/v1/me/changes")),
)
