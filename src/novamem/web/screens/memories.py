"""The memory workspace: browse and filter, search, remember, one memory's detail with edit and forget.

Each screen validates with the REST route's own request model (`BrowseRequest` is the service's browse model,
which has no REST route of its own: browsing reads like `POST /v1/recent`) and calls the service that route
calls. Metadata is typed as JSON text and source refs one per line; both become the wire values before
validation, so errors land next to the field that was typed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel
from starlette.responses import Response

from novamem.error_messages import NO_SUCH_MEMORY
from novamem.errors import Forbidden, InvalidInput, NotFound, RateLimited, Unavailable
from novamem.services.memory.models import (
    BrowseRequest,
    ForgetRequest,
    MemoryCreate,
    MemoryDetail,
    MemoryUpdate,
    SearchRequest,
    SearchResponse,
)
from novamem.services.memory.recall import DegradedEmpty
from novamem.services.projects.models import ProjectView
from novamem.services.wire import ENTRY_ID_PATTERN
from novamem.web.forms import FORM_ERROR, Form
from novamem.web.routing import Screen
from novamem.web.visit import Visit

__all__ = [
    "MEMORIES",
    "REMEMBER",
    "SCREENS",
    "SearchOutcome",
    "ask",
    "entry_href",
    "projects_of",
]

M = TypeVar("M", bound=BaseModel)

MEMORIES = "/admin/memories"
REMEMBER = MEMORIES + "/new"
_ENTRY = MEMORIES + "/{entry_id}"
_RECENT = ("POST", "/v1/recent")
_REMEMBER = ("POST", "/v1/remember")
_FORGET = ("POST", "/v1/forget")
METADATA_HINT = 'Metadata must be a JSON object, such as {"topic": "travel"}.'
PAGE_SIZES = (10, 20, 50, 100)
_CURSORS = ("before", "after")


def _entry_id(visit: Visit) -> str:
    """The path's memory id, checked like REST checks `/v1/memories/{id}` (anything else is no memory of yours)."""
    entry_id = visit.params["entry_id"]
    if not re.fullmatch(ENTRY_ID_PATTERN, entry_id):
        raise NotFound(NO_SUCH_MEMORY)
    return entry_id


def entry_href(entry_id: str) -> str:
    """The detail page of a memory."""
    return f"{MEMORIES}/{quote(entry_id, safe='')}"


async def projects_of(visit: Visit) -> list[ProjectView]:
    """The caller's projects (`GET /v1/me/projects`), for names and the project pickers."""
    return (await visit.container.projects.list_mine(visit.caller)).projects


@dataclass(frozen=True)
class SearchOutcome:
    """A search as a page shows it: the form, the answer (None when there is none) and what went wrong."""

    form: Form[SearchRequest]
    answer: SearchResponse | None
    problem: str | None  # the degraded or unavailable message
    status: int


async def ask(visit: Visit, fields: Mapping[str, str]) -> SearchOutcome:
    """`POST /v1/search` with the given wire fields; a degraded search keeps its (empty) answer and says so."""
    form = Form.submitted(SearchRequest, fields)
    if form.model is None:
        return SearchOutcome(form, None, None, form.status)
    try:
        answer = await visit.container.recall.search(visit.caller, form.model)
    except DegradedEmpty as exc:
        kept = exc.answer if isinstance(exc.answer, SearchResponse) else None
        return SearchOutcome(form, kept, exc.message, 503)
    except Unavailable as exc:
        return SearchOutcome(form, None, exc.message, 503)
    except (NotFound, Forbidden) as exc:
        form.fail(exc, "project")
        return SearchOutcome(form, None, None, form.status)
    return SearchOutcome(form, answer, None, 200)


async def _write_form(visit: Visit, model: type[M]) -> Form[M]:
    """The posted write form validated with `model`: metadata parsed from JSON, source refs one per line."""
    fields = await visit.fields()
    extra: dict[str, Any] = {}
    metadata = _text(fields, "metadata").strip()
    if metadata:
        try:
            extra["metadata"] = json.loads(metadata)
        except ValueError:
            extra["metadata"] = metadata  # not JSON: fails validation next to the field
    refs = [line.strip() for line in _text(fields, "sourceRefs").splitlines() if line.strip()]
    if refs:
        extra["sourceRefs"] = refs
    form = Form.submitted(model, fields, extra=extra)
    if "metadata" in form.errors and not isinstance(extra.get("metadata"), dict):
        form.errors["metadata"] = METADATA_HINT
    return form


def _text(fields: Mapping[str, str | list[str]], name: str) -> str:
    value = fields.get(name, "")
    return value if isinstance(value, str) else "\n".join(value)


# -- browse and search ------------------------------------------------------------------------------


def _page_href(fields: Mapping[str, str], **cursor: str) -> str:
    """This page's filters with another cursor."""
    kept = {name: value for name, value in fields.items() if value and name not in _CURSORS}
    return f"{MEMORIES}?{urlencode({**kept, **cursor})}"


def _search_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The browse filters a search understands, as `POST /v1/search` fields (k = the page size)."""
    wanted = {
        "query": fields.get("q", ""),
        "k": fields.get("limit", ""),
        "namespace": fields.get("namespace", ""),
        "project": fields.get("project", ""),
        "agentName": fields.get("agentName", ""),
        "maxSensitivity": fields.get("sensitivity", ""),
    }
    return {name: value for name, value in wanted.items() if value}


async def browse_page(visit: Visit) -> Response:
    """Newest first with filters and paging; a search text switches to hybrid search with signal badges."""
    fields = dict(visit.query)
    form = Form.submitted(BrowseRequest, fields)
    search = page = None
    status = form.status
    if form.model is not None and fields.get("q", "").strip():
        search = await ask(visit, _search_fields(fields))
        status = search.status
    elif form.model is not None:
        try:
            page = await visit.container.recall.browse(visit.caller, form.model)
        except (NotFound, Forbidden) as exc:
            status = form.fail(exc, "project").status
    return visit.render(
        "memories.html",
        status=status,
        form=form,
        search=search,
        page=page,
        projects=await projects_of(visit),
        page_sizes=PAGE_SIZES,
        older=_page_href(fields, before=page.next_before) if page and page.next_before else None,
        newer=_page_href(fields, after=page.previous_after) if page and page.previous_after else None,
        filtered=any(value for name, value in fields.items() if name not in (*_CURSORS, "limit")),
    )


# -- remember ---------------------------------------------------------------------------------------


async def _remember_form(visit: Visit, form: Form[MemoryCreate]) -> Response:
    return visit.render("remember.html", status=form.status, form=form, projects=await projects_of(visit))


async def remember_page(visit: Visit) -> Response:
    """The empty remember form."""
    return await _remember_form(visit, Form[MemoryCreate].blank())


async def remember(visit: Visit) -> Response:
    """`POST /v1/remember`; a rejected write (the worthiness gate) is shown next to the content."""
    form = await _write_form(visit, MemoryCreate)
    if form.model is None:
        return await _remember_form(visit, form)
    try:
        result = await visit.container.memories.remember(visit.caller, form.model)
    except (NotFound, Forbidden) as exc:
        form.fail(exc, "project")
    except InvalidInput as exc:
        form.fail(exc, "content")
    except RateLimited as exc:
        form.fail(exc, FORM_ERROR)
    else:
        if result.id is None:
            form.fail(InvalidInput(f"Not stored: {result.rejected}."), "content")
        elif result.deduplicated:
            return visit.redirect(entry_href(result.id), "You had already remembered this; here it is.", kind="info")
        else:
            return visit.redirect(entry_href(result.id), "Remembered.")
    return await _remember_form(visit, form)


# -- one memory: detail, edit, forget --------------------------------------------------------------


def _edit_form(entry: MemoryDetail) -> Form[MemoryUpdate]:
    """The edit form filled with what is stored."""
    return Form[MemoryUpdate].blank(
        content=entry.content,
        namespace=entry.namespace,
        sensitivity=entry.sensitivity,
        sourceType=entry.source_type or "",
        capturedFrom=entry.captured_from or "",
        confidence=f"{entry.confidence:g}",
        metadata=json.dumps(entry.metadata, indent=2, ensure_ascii=False),
    )


async def _detail(visit: Visit, entry: MemoryDetail, form: Form[MemoryUpdate]) -> Response:
    projects = {project.id: project.name for project in await projects_of(visit)}
    return visit.render("memory.html", status=form.status, entry=entry, form=form, project_names=projects)


async def detail_page(visit: Visit) -> Response:
    """Everything stored about one memory, and the form to change it."""
    entry = await visit.container.recall.entry(visit.caller, _entry_id(visit))
    return await _detail(visit, entry, _edit_form(entry))


async def edit(visit: Visit) -> Response:
    """`PUT /v1/memories/{id}`: metadata replaces the stored object."""
    entry_id = _entry_id(visit)
    form = await _write_form(visit, MemoryUpdate)
    if form.model is not None:
        try:
            await visit.container.memories.update(visit.caller, entry_id, form.model)
        except InvalidInput as exc:
            form.fail(exc, "content")
        except Forbidden as exc:
            form.fail(exc, FORM_ERROR)
        else:
            return visit.redirect(entry_href(entry_id), "Saved.")
    return await _detail(visit, await visit.container.recall.entry(visit.caller, entry_id), form)


async def forget_page(visit: Visit) -> Response:
    """The confirmation step before forgetting."""
    entry = await visit.container.recall.entry(visit.caller, _entry_id(visit))
    return visit.render("memory_forget.html", entry=entry)


async def forget(visit: Visit) -> Response:
    """`POST /v1/forget` by id (idempotent: an id already gone says so)."""
    outcome = await visit.container.memories.forget(visit.caller, ForgetRequest(id=_entry_id(visit)))
    if not outcome.deleted:
        return visit.redirect(MEMORIES, "That memory was already gone.", kind="info")
    return visit.redirect(MEMORIES, "Memory forgotten.")


SCREENS = (
    Screen(MEMORIES, browse_page, _RECENT),
    Screen(REMEMBER, remember_page, _REMEMBER),
    Screen(REMEMBER, remember, _REMEMBER, method="POST"),
    # one memory by id reads the entry scope `GET /v1/me/export` pages through
    Screen(_ENTRY, detail_page, ("GET", "/v1/me/export")),
    Screen(_ENTRY + "/edit", edit, ("PUT", "/v1/memories/{id}"), method="POST"),
    Screen(_ENTRY + "/forget", forget_page, _FORGET),
    Screen(_ENTRY + "/forget", forget, _FORGET, method="POST"),
)
