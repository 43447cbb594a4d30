"""The write path: remember, capture, session recap, update and forget."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ulid import ULID

from novamem.domain import capture as heuristics
from novamem.domain.entries import (
    DEFAULT_NAMESPACE,
    EntryDraft,
    LifecycleStatus,
    Sensitivity,
    content_hash,
    gate_rejection,
    infer_sensitivity,
    iso,
    now_utc,
)
from novamem.domain.scope import Caller, WriteTarget
from novamem.embedding.base import Embedder
from novamem.error_messages import DATABASE_UNAVAILABLE, NO_SUCH_MEMORY
from novamem.errors import Conflict, Forbidden, InvalidInput, NotFound, NovamemError, RateLimited, Unavailable
from novamem.services.identity.access import AccessPolicy, require_writer
from novamem.services.identity.quotas import QuotaService
from novamem.services.memory.models import (
    CaptureResult,
    ForgetRequest,
    ForgetResponse,
    MemoryCreate,
    MemoryUpdate,
    RecapRequest,
    RecapResponse,
    UpdateResponse,
)
from novamem.services.operations.metrics import Counter, MetricsService
from novamem.storage.base import MemoryStore

__all__ = ["EmbedderState", "MemoryService", "WritePolicy"]

log = logging.getLogger("novamem.memories")

RECAP_SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("decisions", "decisions", "decision"),
    ("setup_facts", "current-setup", "setup_fact"),
    ("root_causes", "root-causes", "bug_root_cause"),
    ("preferences", "user", "user_preference"),
    ("project_conventions", "project-conventions", "project_convention"),
    ("safety_constraints", "safety", "safety_constraint"),
    ("other", "memory", "general"),
)
NEAR_DUPLICATE_PROBE = 5
INSERT_ROUNDS = 3  # a batch insert that keeps losing races to writes that vanish again gives up


class EmbedderState:
    """Calls the embedder and remembers whether it is failing; logs failures at most once a minute."""

    def __init__(self, embedder: Embedder | None) -> None:
        self.embedder = embedder
        self.failing = False
        self._last_log = 0.0
        self._suppressed = 0

    def _failed(self, exc: Exception) -> None:
        self.failing = True
        now = time.monotonic()
        if now - self._last_log >= 60:
            extra = f" ({self._suppressed} similar failures suppressed)" if self._suppressed else ""
            log.warning("embedder failing: %s%s", exc, extra)
            self._last_log, self._suppressed = now, 0
        else:
            self._suppressed += 1

    async def documents(self, texts: Sequence[str]) -> list[list[float]] | None:
        if self.embedder is None:
            return None
        try:
            vectors = await self.embedder.embed_documents(texts)
        except Unavailable as exc:
            self._failed(exc)
            return None
        self.failing = False
        return vectors

    async def document(self, text: str) -> list[float] | None:
        vectors = await self.documents([text])
        return vectors[0] if vectors else None

    async def query(self, text: str) -> list[float] | None:
        if self.embedder is None:
            return None
        try:
            vector = await self.embedder.embed_query(text)
        except Unavailable as exc:
            self._failed(exc)
            return None
        self.failing = False
        return vector


@dataclass(frozen=True, slots=True)
class WritePolicy:
    """Server-side write settings."""

    max_content_chars: int = 4000
    graph_fanout: int = 3
    near_duplicate_cosine: float = 0.92
    personal_terms: tuple[str, ...] = ()


@dataclass(slots=True)
class _Prepared:
    target: WriteTarget
    draft: EntryDraft


class MemoryService:
    """Stores, changes and removes memories on behalf of a caller."""

    def __init__(
        self,
        store: MemoryStore,
        embedder: EmbedderState,
        policy: WritePolicy,
        access: AccessPolicy,
        quotas: QuotaService | None = None,
        metrics: MetricsService | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or MetricsService(None)
        self._access = access
        self._embedder = embedder
        self._policy = policy
        self._quotas = quotas

    async def _check_quota(self, caller: Caller, amount: int = 1, pending: int = 0) -> None:
        """Write quota first, before any other rule (`force` does not bypass it); read-only never counts.

        `pending`: writes of the same batch admitted before this one, not stored yet."""
        require_writer(caller)
        if self._quotas is not None and amount > 0:
            await self._quotas.check_write(caller, amount, pending=pending)

    # -- remember ---------------------------------------------------------------------------------

    async def _prepare(self, caller: Caller, req: MemoryCreate, defaults: dict[str, Any]) -> _Prepared | str:
        target = await self._access.write_target(caller, req.project)
        rejection = gate_rejection(req.content, max_chars=self._policy.max_content_chars, force=req.force)
        if rejection:
            return rejection
        content = req.content.strip()
        metadata = dict(req.metadata or {})
        level = infer_sensitivity(content, Sensitivity.parse(req.sensitivity), metadata)
        metadata["sensitivity"] = level.label
        if req.expires_at is not None:
            metadata["expiresAt"] = iso(req.expires_at)
        draft = EntryDraft(
            id=str(ULID()),
            tenant_id=target.tenant_id,
            user_id=target.user_id,
            project_id=target.project_id,
            scope_key=target.scope_key,
            namespace=req.namespace or DEFAULT_NAMESPACE,
            content=content,
            content_hash=content_hash(content),
            source=req.source or defaults.get("source", "manual"),
            agent_name=req.agent_name,
            metadata=metadata,
            source_type=req.source_type or defaults.get("source_type"),
            captured_from=req.captured_from or defaults.get("captured_from"),
            confidence=1.0 if req.confidence is None else req.confidence,
            sensitivity=level,
            expires_at=req.expires_at,
            source_refs=list(req.source_refs or []),
            organization_id=target.organization_id,
        )
        return _Prepared(target, draft)

    async def remember(self, caller: Caller, req: MemoryCreate) -> CaptureResult:
        """Raw write: quota, worthiness gate, length cap, exact dedup, insert, embed and link."""
        with self._metrics.failures(caller.tenant_id, Counter.REMEMBER_ERRORS):
            result = await self._remember(caller, req)
        self._saved(caller, [result])
        return result

    def _saved(self, caller: Caller, results: Sequence[CaptureResult]) -> None:
        self._metrics.count(caller.tenant_id, Counter.REMEMBERS, sum(1 for r in results if r.id is not None))

    async def _remember(self, caller: Caller, req: MemoryCreate) -> CaptureResult:
        await self._check_quota(caller)
        prepared = await self._prepare(caller, req, {})
        if isinstance(prepared, str):
            return CaptureResult(id=None, rejected=prepared)
        draft = prepared.draft
        duplicate, replace_id = await self._dedup(draft)
        if duplicate is not None:
            return duplicate
        return await self._insert(draft, await self._embedder.document(draft.content), replace_id)

    async def remember_many(self, caller: Caller, reqs: Sequence[MemoryCreate]) -> list[CaptureResult | NovamemError]:
        """Many raw writes at once, each with the rules of `remember` (quota, gate, length cap, exact dedup).

        The result has one item per request, in order: its outcome, or the error that failed that item
        alone (an unknown project, a quota refusal). Exact duplicates, of stored entries or of an earlier
        item of the same batch, are merged as `remember` merges them. The new entries' texts go to the
        embedder as one batch, then every new row is written by one multi-row insert in one transaction
        (vectors and nearest-neighbour edges included); while the embedder is down the rows are stored
        with their vectors owed, for the reconciler.
        """
        results: list[CaptureResult | NovamemError | None] = [None] * len(reqs)
        drafts: list[tuple[int, EntryDraft]] = []
        admitted = 0  # past the quota check; a duplicate among them may leave room unused, never overfill
        with self._metrics.failures(caller.tenant_id, Counter.REMEMBER_ERRORS):
            for index, req in enumerate(reqs):
                try:
                    await self._check_quota(caller, pending=admitted)
                    admitted += 1
                    prepared = await self._prepare(caller, req, {})
                except (NotFound, Forbidden, InvalidInput, Conflict, RateLimited) as exc:
                    results[index] = exc
                    continue
                if isinstance(prepared, str):
                    results[index] = CaptureResult(id=None, rejected=prepared)
                else:
                    drafts.append((index, prepared.draft))
            fresh, replace_ids, twins = await self._merge_duplicates(caller, drafts, results)
            await self._insert_fresh(caller, fresh, replace_ids, results)
        for index, first in twins:  # the same content earlier in the batch: merged into what that item became
            settled = results[first]
            assert isinstance(settled, CaptureResult)
            results[index] = CaptureResult(id=settled.id, deduplicated=True, embedded=settled.embedded)
        done = [r for r in results if r is not None]
        assert len(done) == len(reqs)
        self._saved(caller, [r for r in done if isinstance(r, CaptureResult)])
        return done

    async def _merge_duplicates(
        self,
        caller: Caller,
        drafts: list[tuple[int, EntryDraft]],
        results: list[CaptureResult | NovamemError | None],
    ) -> tuple[list[tuple[int, EntryDraft]], list[str], list[tuple[int, int]]]:
        """Settle the drafts that duplicate a live entry. Returns the drafts to insert, the ids of expired
        entries they replace, and (index, earlier index) for drafts repeating an earlier draft's content."""
        keys = list(dict.fromkeys((d.scope_key, d.content_hash) for _, d in drafts))
        existing = await self._store.find_duplicates(caller.tenant_id, caller.organization_id, keys)
        now = now_utc()
        expired = {k: e.id for k, e in existing.items() if e.expires_at is not None and e.expires_at <= now}
        live = {k: e for k, e in existing.items() if k not in expired}
        first: dict[tuple[str, str], int] = {}
        fresh: list[tuple[int, EntryDraft]] = []
        twins: list[tuple[int, int]] = []
        for index, draft in drafts:
            key = (draft.scope_key, draft.content_hash)
            if key in live:
                entry = live[key]
                results[index] = CaptureResult(id=entry.id, deduplicated=True, embedded=entry.embedded)
            elif key in first:
                twins.append((index, first[key]))
            else:
                first[key] = index
                fresh.append((index, draft))
        if live:
            await self._store.touch(caller.tenant_id, [e.id for e in live.values()])
        return fresh, list(expired.values()), twins

    async def _insert_fresh(
        self,
        caller: Caller,
        drafts: list[tuple[int, EntryDraft]],
        replace_ids: list[str],
        results: list[CaptureResult | NovamemError | None],
    ) -> None:
        """Embed the new drafts as one batch and insert them together; fill in their results."""
        if not drafts:
            return
        vectors = await self._embedder.documents([d.content for _, d in drafts])
        for position, (_, draft) in enumerate(drafts):
            draft.embedding = vectors[position] if vectors is not None else None
        for _ in range(INSERT_ROUNDS):
            inserted = await self._store.insert_many(
                [d for _, d in drafts], fanout=self._policy.graph_fanout, replace_ids=replace_ids
            )
            raced = [(d.scope_key, d.content_hash) for _, d in drafts if d.id not in inserted]
            found = await self._store.find_duplicates(caller.tenant_id, caller.organization_id, raced) if raced else {}
            retry: list[tuple[int, EntryDraft]] = []
            for index, draft in drafts:
                winner = found.get((draft.scope_key, draft.content_hash))
                if draft.id in inserted:
                    results[index] = CaptureResult(id=draft.id, embedded=draft.embedding is not None)
                elif winner is not None:  # a concurrent write stored the same content first: merged
                    results[index] = CaptureResult(id=winner.id, deduplicated=True, embedded=winner.embedded)
                else:  # that concurrent entry is already gone again: insert once more
                    retry.append((index, draft))
            if not retry:
                return
            drafts, replace_ids = retry, []
        raise Unavailable(DATABASE_UNAVAILABLE)

    async def _dedup(self, draft: EntryDraft) -> tuple[CaptureResult | None, str | None]:
        """An existing live duplicate's result, or the id of an expired duplicate to replace."""
        target = WriteTarget(draft.tenant_id, draft.user_id, draft.project_id, draft.organization_id)
        existing = await self._store.find_duplicate(target, draft.content_hash)
        if existing is None:
            return None, None
        if existing.expires_at is not None and existing.expires_at <= now_utc():
            return None, existing.id
        await self._store.touch(existing.tenant_id, [existing.id])
        await self._store.add_source_refs(existing, draft.source_refs)
        embedded = existing.embedded
        if not embedded:
            vector = await self._embedder.document(existing.content)
            if vector is not None:
                owed = await self._store.owed_embeddings_for([existing.id])
                embedded = (
                    bool(await self._store.store_embeddings([(o, vector) for o in owed], self._policy.graph_fanout))
                    or not owed
                )
        return CaptureResult(id=existing.id, deduplicated=True, embedded=embedded), None

    async def _insert(
        self,
        draft: EntryDraft,
        vector: list[float] | None,
        replace_id: str | None,
        supersede: tuple[str, dict[str, Any]] | None = None,
    ) -> CaptureResult:
        """Store a new entry (with its vector when there is one); one transaction in the store."""
        draft.embedding = vector
        await self._store.insert(draft, fanout=self._policy.graph_fanout, replace_id=replace_id, supersede=supersede)
        return CaptureResult(id=draft.id, embedded=vector is not None)

    # -- capture ----------------------------------------------------------------------------------

    async def capture(
        self,
        caller: Caller,
        req: MemoryCreate,
        extra_meta: dict[str, Any] | None = None,
        default_namespace: str | None = None,
    ) -> CaptureResult:
        """Agent write: remember plus the near-duplicate guard (supersede or update in place)."""
        with self._metrics.failures(caller.tenant_id, Counter.REMEMBER_ERRORS):
            await self._check_quota(caller)
            result = await self._capture(caller, req, extra_meta, default_namespace)
        self._saved(caller, [result])
        return result

    async def _capture(
        self,
        caller: Caller,
        req: MemoryCreate,
        extra_meta: dict[str, Any] | None = None,
        default_namespace: str | None = None,
    ) -> CaptureResult:
        defaults = {"source": "memory_capture", "source_type": "chat", "captured_from": "memory_capture"}
        if default_namespace and not req.namespace:
            req = req.model_copy(update={"namespace": default_namespace})
        prepared = await self._prepare(caller, req, defaults)
        if isinstance(prepared, str):
            return CaptureResult(id=None, rejected=prepared)
        draft = prepared.draft
        meta = {**draft.metadata, **(extra_meta or {})}
        memory_type = heuristics.classify(draft.content, draft.namespace, meta.get("memoryType"))
        meta.update(
            lifecycleStatus=LifecycleStatus.ACTIVE.value,
            memoryType=memory_type,
            worthiness=heuristics.worthiness(draft.content, memory_type, draft.confidence, self._policy.personal_terms),
            retention=heuristics.retention_for(memory_type).as_metadata(),
            captureAction="inserted",
        )
        draft.metadata = meta
        duplicate, replace_id = await self._dedup(draft)
        if duplicate is not None:
            return duplicate
        vector = await self._embedder.document(draft.content)
        if vector is not None:
            guarded = await self._near_duplicate(prepared.target, draft, vector, replace_id)
            if guarded is not None:
                return guarded
        return await self._insert(draft, vector, replace_id)

    async def _near_duplicate(
        self, target: WriteTarget, draft: EntryDraft, vector: list[float], replace_id: str | None
    ) -> CaptureResult | None:
        near = await self._store.nearest_active(target, draft.namespace, vector, NEAR_DUPLICATE_PROBE)
        match = next((e for e, cos in near if cos >= self._policy.near_duplicate_cosine), None)
        if match is None:
            return None
        stamp = iso(now_utc())
        if heuristics.looks_contradictory(match.content, draft.content):
            draft.metadata.update(captureAction="superseded", supersedes=[match.id], supersededAt=stamp)
            old_meta = {
                **match.metadata,
                "lifecycleStatus": "superseded",
                "supersededBy": draft.id,
                "supersededReason": "contradiction",
                "supersededAt": stamp,
            }
            # the new entry and the old one's demotion commit together, or not at all
            result = await self._insert(draft, vector, replace_id, supersede=(match.id, old_meta))
            return CaptureResult(id=result.id, superseded=[match.id], embedded=result.embedded)
        if heuristics.is_content_superset(match.content, draft.content):
            merged = {
                **match.metadata,
                **draft.metadata,
                "captureAction": "updated",
                "updatedByCaptureAt": stamp,
                "lifecycleStatus": "active",
            }
            await self._store.update(
                match,
                content=draft.content,
                content_hash=draft.content_hash,
                embedding=vector,
                fields={
                    "metadata": merged,
                    "namespace": draft.namespace,
                    "sensitivity": int(draft.sensitivity),
                    "source_type": draft.source_type,
                    "captured_from": draft.captured_from,
                    "expires_at": draft.expires_at,
                },
            )
            await self._store.add_source_refs(match, draft.source_refs)
            return CaptureResult(id=match.id, deduplicated=True, updated=True, embedded=True)
        return None

    async def session_recap(self, caller: Caller, req: RecapRequest) -> RecapResponse:
        """Capture each recap item with its memory type and default namespace."""
        require_writer(caller)
        results: list[CaptureResult] = []
        try:
            with self._metrics.failures(caller.tenant_id, Counter.REMEMBER_ERRORS):
                await self._check_quota(caller, sum(len(getattr(req, name)) for name, _, _ in RECAP_SECTIONS))
                common = req.model_dump(exclude={name for name, _, _ in RECAP_SECTIONS}, exclude_none=True)
                common.setdefault("source", "memory_session_recap")
                common.setdefault("source_type", "summary")
                for field_name, namespace, memory_type in RECAP_SECTIONS:
                    for item in getattr(req, field_name):
                        write = MemoryCreate(content=item, **common)
                        meta = {"memoryType": memory_type, "recap": True}
                        results.append(await self._capture(caller, write, meta, default_namespace=namespace))
        finally:
            self._saved(caller, results)  # items stored before a failure stay stored
        return RecapResponse(saved=sum(1 for r in results if r.id is not None), results=results)

    # -- update and forget ------------------------------------------------------------------------

    async def update(self, caller: Caller, entry_id: str, req: MemoryUpdate) -> UpdateResponse:
        """Change content and/or fields of an entry in the caller's scope; metadata is replaced."""
        require_writer(caller)
        scope = await self._access.entry_scope(caller, req.project)
        entry = await self._store.get(scope, entry_id)
        if entry is None:
            raise NotFound(NO_SUCH_MEMORY)
        fields: dict[str, Any] = {}
        if req.namespace is not None:
            fields["namespace"] = req.namespace
        if req.source_type is not None:
            fields["source_type"] = req.source_type
        if req.captured_from is not None:
            fields["captured_from"] = req.captured_from
        if req.confidence is not None:
            fields["confidence"] = req.confidence
        metadata = dict(req.metadata) if req.metadata is not None else dict(entry.metadata)
        content = req.content.strip() if req.content is not None else None
        if content is not None and not content:
            raise InvalidInput(
                issues=[{"path": ["content"], "message": "content is empty after trimming", "code": "too_small"}]
            )
        explicit = Sensitivity.parse(req.sensitivity)
        if explicit is not None or req.metadata is not None or content is not None:
            level = infer_sensitivity(content or entry.content, explicit, metadata)
            metadata["sensitivity"] = level.label
            fields["sensitivity"] = int(level)
        if entry.expires_at is not None and "expiresAt" not in metadata:
            metadata["expiresAt"] = iso(entry.expires_at)
        fields["metadata"] = metadata
        changed = content is not None and content != entry.content
        if changed and self._policy.max_content_chars and len(content or "") > self._policy.max_content_chars:
            raise InvalidInput(
                issues=[
                    {
                        "path": ["content"],
                        "code": "too_big",
                        "message": f"too long ({len(content or '')} chars, max {self._policy.max_content_chars})",
                    }
                ]
            )
        vector = await self._embedder.document(content) if changed and content else None
        await self._store.update(
            entry,
            content=content if changed else None,
            content_hash=content_hash(content) if changed and content else None,
            fields=fields,
            embedding=vector,
        )
        return UpdateResponse(id=entry.id, updated=True, embedding_changed=changed)

    async def forget(self, caller: Caller, req: ForgetRequest) -> ForgetResponse:
        """Delete one entry by `req.id`, or every entry in scope carrying `req.source_ref`."""
        if req.id is not None:
            return await self.forget_by_id(caller, req.id, req.project)
        assert req.source_ref is not None  # the request model holds exactly one of the two
        return await self.forget_by_source(caller, req.source_ref, req.project)

    async def forget_by_id(self, caller: Caller, entry_id: str, project: str | None) -> ForgetResponse:
        """Delete one entry by id (idempotent: an unknown id answers deleted=false)."""
        require_writer(caller)
        scope = await self._access.entry_scope(caller, project)
        entry = await self._store.get(scope, entry_id)
        if entry is None:
            # another user's or tenant's entry answers exactly like an id that does not exist
            return ForgetResponse(deleted=False, cold_delete_ok=True)
        deleted = await self._store.delete(caller.tenant_id, [entry.id], organization_id=caller.organization_id)
        self._metrics.count(caller.tenant_id, Counter.FORGETS, len(deleted))
        return ForgetResponse(deleted=bool(deleted), cold_delete_ok=True)

    async def forget_by_source(self, caller: Caller, source_ref: str, project: str | None) -> ForgetResponse:
        """Delete every entry in scope that carries the exact source ref."""
        require_writer(caller)
        scope = await self._access.read_scope(caller, project=project)
        ids = await self._store.delete_by_source_ref(scope, source_ref)
        self._metrics.count(caller.tenant_id, Counter.FORGETS, len(ids))
        return ForgetResponse(source_ref=source_ref, ids=ids, count=len(ids), cold_delete_ok=True)
