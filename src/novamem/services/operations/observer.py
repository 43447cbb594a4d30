"""The observer (optional, `NOVAMEM_OBSERVER_*`): keeps each user's short, dated log of what matters, written by
a chat model from their new memories, and serves it as a prompt-cacheable prefix (`GET /v1/context-prefix`).

A pass over one log reads the newest memories of namespace `default` that the log has not seen, sends them
(PII redacted) with the log's latest bullets to the model, appends the bullets it answers, and asks the
model to condense the log once it is longer than the reflect threshold. A model that is down, slow or
answers garbage changes nothing: the log and its cursor stay as they were, so the next pass tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Protocol

from ulid import ULID

from novamem.domain.entries import now_utc
from novamem.domain.observation import (
    OBSERVE_PROMPT,
    REFLECT_PROMPT,
    ObservationLog,
    bounded,
    log_lines,
    memory_lines,
    parse_bullets,
)
from novamem.domain.scope import Caller, ReadScope
from novamem.error_messages import OBSERVER_UNAVAILABLE
from novamem.errors import Unavailable
from novamem.services.identity.access import AccessPolicy
from novamem.services.operations.admin import require_operator
from novamem.services.operations.observer_models import ContextPrefix
from novamem.services.operations.operator_models import ObserveResponse
from novamem.storage.base import MemoryStore, ObservationLogs

__all__ = ["ObserverPassResult", "ObserverService"]

log = logging.getLogger("novamem.observer")

OBSERVED_NAMESPACE = "default"
#: the log's latest bullets shown to the model with new memories (so it does not repeat them)
CONTEXT_LINES = 40
MAX_TOKENS = 1024
#: the scheduled pass looks at memories written this long ago at most, and at this many logs per run
PASS_WINDOW = timedelta(days=7)
PASS_OWNERS = 50
PASS_LIMIT = 20
#: derived rows are never observed
_SKIPPED_SOURCE_TYPES = {"fact", "observation"}
WARN_EVERY_S = 60.0


class Chat(Protocol):
    """What the observer needs of a chat model (`embedding.chat.ChatModel` fits)."""

    async def reply(self, system: str, user: str, *, max_tokens: int) -> str: ...


class ObserverPassResult(ObserveResponse):
    """A scheduled pass: the logs it updated, on top of the totals of one observe call."""

    logs: int


class ObserverService:
    """Observes new memories into per-user logs and serves the logs.

    `redact` takes personal data out of a text before it is sent to the model.
    """

    def __init__(
        self,
        logs: ObservationLogs,
        store: MemoryStore,
        access: AccessPolicy,
        chat: Chat,
        *,
        redact: Callable[[str], str],
        timeout_s: float,
        observe_threshold: int,
        reflect_threshold: int,
    ) -> None:
        self._logs = logs
        self._store = store
        self._access = access
        self._chat = chat
        self._redact = redact
        self._timeout_s = timeout_s
        self._observe_threshold = observe_threshold
        self._reflect_threshold = reflect_threshold
        self._warned_at = 0.0

    async def context_prefix(self, caller: Caller, project: str | None) -> ContextPrefix:
        """The caller's log (of `project`, else of the token's or active project, else outside any)."""
        if caller.is_on_behalf:  # their memories (an organization's) are never observed
            return ContextPrefix(prefix="")
        if project is not None:
            project_id: str | None = await self._access.resolve_project(caller, project)
        else:
            project_id = caller.confined_project or caller.active_project
        found = await self._logs.get(caller.tenant_id, caller.user_id, project_id)
        return ContextPrefix(prefix=found.text if found else "")

    async def observe(self, caller: Caller, project: str | None, limit: int) -> ObserveResponse:
        """One pass over the caller's log (of `project`, resolved like a write's) with up to `limit` new memories.

        Raises Unavailable (`OBSERVER_UNAVAILABLE`, the reason in `detail`) when the model fails.
        """
        require_operator(caller)
        if caller.is_on_behalf:
            return ObserveResponse(observed=0, reflected=0, log_chars=0)
        if project is not None:
            project_id: str | None = await self._access.resolve_project(caller, project)
        else:
            project_id = caller.confined_project or caller.active_project
        return await self._observe(caller.tenant_id, caller.user_id, project_id, limit)

    async def run_scheduled(self) -> ObserverPassResult:
        """The periodic pass: every log with at least the observe threshold of new memories (a bounded number
        per run); one that fails is logged and tried again next time."""
        since = str(ULID.from_int(int((now_utc() - PASS_WINDOW).timestamp() * 1000) << 80))
        owners = await self._logs.busy_owners(since, self._observe_threshold, PASS_OWNERS)
        totals = ObserverPassResult(observed=0, reflected=0, log_chars=0, logs=0)
        for tenant_id, user_id, project_id in owners:
            try:
                done = await self._observe(tenant_id, user_id, project_id, PASS_LIMIT)
            except Unavailable as exc:
                self._warn(f"observer pass skipped a log: {exc.detail or exc.message}")
                continue
            totals.observed += done.observed
            totals.reflected += done.reflected
            totals.log_chars += done.log_chars
            totals.logs += bool(done.observed)
        return totals

    async def _observe(self, tenant_id: str, user_id: str, project_id: str | None, limit: int) -> ObserveResponse:
        current = await self._logs.get(tenant_id, user_id, project_id) or ObservationLog(tenant_id, user_id, project_id)
        scope = ReadScope(
            tenant_id=tenant_id,
            user_id=user_id,
            include_user_global=project_id is None,
            project_ids=(project_id,) if project_id else (),
            namespaces=(OBSERVED_NAMESPACE,),
        )
        newest = await self._store.recent(scope, limit, None)
        fresh = [
            e
            for e in reversed(newest)
            if (current.observed_through is None or e.id > current.observed_through)
            and e.organization_id is None
            and (e.source_type or "") not in _SKIPPED_SOURCE_TYPES
        ]
        if not fresh:
            return ObserveResponse(observed=0, reflected=0, log_chars=len(current.text))
        lines = log_lines(current.text)
        shown = "\n".join(lines[-CONTEXT_LINES:]) or "(empty)"
        memories = memory_lines([(e.occurred_at or e.created_at, self._redact(e.content)) for e in fresh])
        bullets = parse_bullets(await self._ask(OBSERVE_PROMPT, f"Current log:\n{shown}\n\nNew memories:\n{memories}"))
        if bullets is None:
            raise Unavailable(OBSERVER_UNAVAILABLE, detail="the observer model answered no usable bullets")
        lines += bullets
        reflected = 0
        if len(lines) > self._reflect_threshold:
            condensed = await self._reflect(lines)
            if condensed is not None:
                lines, reflected = condensed, 1
        text = "\n".join(bounded(lines, self._reflect_threshold))
        updated = replace(current, text=text, observed_through=max(e.id for e in fresh))
        if not await self._logs.save(updated):  # another pass saved this log first: this one lands nothing
            return ObserveResponse(observed=0, reflected=0, log_chars=len(current.text))
        return ObserveResponse(observed=len(fresh), reflected=reflected, log_chars=len(text))

    async def _reflect(self, lines: list[str]) -> list[str] | None:
        """The log condensed by the model, or None when the model failed or answered something unusable
        (no bullets, or not shorter): the log is then kept as it was, within its bound."""
        try:
            reply = await self._ask(REFLECT_PROMPT, "\n".join(self._redact(line) for line in lines))
        except Unavailable as exc:
            self._warn(f"observer could not condense a log: {exc.detail or exc.message}")
            return None
        condensed = parse_bullets(reply)
        if not condensed or len(condensed) >= len(lines):
            self._warn("observer could not condense a log: the model's answer was not a shorter log")
            return None
        return condensed

    async def _ask(self, system: str, user: str) -> str:
        try:
            return await asyncio.wait_for(self._chat.reply(system, user, max_tokens=MAX_TOKENS), self._timeout_s)
        except TimeoutError as exc:
            raise Unavailable(OBSERVER_UNAVAILABLE, detail="the observer model did not answer in time") from exc
        except Unavailable as exc:
            raise Unavailable(OBSERVER_UNAVAILABLE, detail=exc.message) from exc

    def _warn(self, message: str) -> None:
        if time.monotonic() - self._warned_at > WARN_EVERY_S:
            self._warned_at = time.monotonic()
            log.warning("%s", message)
