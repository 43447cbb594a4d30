"""The write path: remember, capture, session recap, update and forget."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
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
from novamem.domain.splitting import split_text
from novamem.embedding.base import Embedder
from novamem.error_messages import DATABASE_UNAVAILABLE, NO_SUCH_MEMORY
from novamem.errors import Conflict, Forbidden, InvalidInput, NotFound, NovamemError, RateLimited, Unavailable
from novamem.services.identity.access import AccessPolicy, require_writer
from novamem.services.identity.quotas import Admission, QuotaService
from novamem.services.memory.batch_models import BatchItemResult, RememberBatchRequest, RememberBatchResponse
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


class _MonotonicIds:
    """ULIDs that never go backwards in this process: ids of one batch, or of a client's consecutive
    writes, sort in the order they were written (the graph stage reads a source's neighbours that way)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        value = int(ULID())
        # same millisecond as the previous id, with a smaller random part: one past the previous id
        self._last = value if value > self._last else self._last + 1
        return str(ULID.from_int(self._last))


_IDS = _MonotonicIds()
INSERT_ROUNDS = 3  # a batch insert that keeps losing races to writes that vanish again gives up


def _split_ref(metadata: dict[str, Any]) -> str | None:
    """The source ref shared by the pieces of a split text, when this metadata is one piece's."""
    split = metadata.get("split")
    ref = split.get("sourceRef") if isinstance(split, dict) else None
    return ref if isinstance(ref, str) else None


def _pieces_result(results: Sequence[CaptureResult], source_ref: str) -> CaptureResult:
    """The answer to a split write: the first piece's id, every piece's id and the ref they share."""
    ids = list(dict.fromkeys(r.id for r in results if r.id is not None))
    stored = [r for r in results if r.id is not None]
    return CaptureResult(
        id=ids[0] if ids else None,
        deduplicated=True if stored and all(r.deduplicated for r in stored) else None,
        embedded=all(bool(r.embedded) for r in stored),
        pieces=ids,
        source_ref=source_ref,
    )


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
        after_write: Callable[[], None] | None = None,
    ) -> None:
        """`after_write`: called once a write stored or changed something (starts the fact-extraction drain)."""
        self._store = store
        self._after_write = after_write
        self._metrics = metrics or MetricsService(None)
        self._access = access
        self._embedder = embedder
        self._policy = policy
        self._quotas = quotas

    async def _check_quota(self, caller: Caller, amount: int = 1) -> None:
        """Write quota first, before any other rule (`force` does not bypass it); read-only never counts."""
        require_writer(caller)
        if self._quotas is not None and amount > 0:
            await self._quotas.check_write(caller, amount)

    async def _admit(self, caller: Caller, count: int) -> Admission:
        """`_check_quota` for a batch, in one check: how many of its writes fit, in order."""
        try:
            require_writer(caller)
        except Forbidden as exc:
            return Admission(admitted=0, refusal=exc)
        if self._quotas is None:
            return Admission(admitted=count, refusal=None)
        return await self._quotas.admit(caller, count)

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
            id=_IDS.next(),
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
            occurred_at=req.occurred_at,
            source_refs=list(req.source_refs or []),
            organization_id=target.organization_id,
            # checked again by the store in the writing transaction (the quota check just read it: no query)
            entry_cap=await self._quotas.entry_cap(caller) if self._quotas is not None else None,
        )
        return _Prepared(target, draft)

    async def remember(self, caller: Caller, req: MemoryCreate) -> CaptureResult:
        """Raw write: quota, worthiness gate, length cap, exact dedup, insert, embed and link.

        With `split`, a text over the length cap is stored as pieces under it (see `_split`), all in one
        `remember_many` (one embedding batch, one insert); a piece refused with an error fails the write
        (pieces already stored stay, and a retry merges into them as exact duplicates)."""
        split = self._split(req)
        if split is not None:
            outcomes = await self.remember_many(caller, split[0])
            failed = next((o for o in outcomes if isinstance(o, NovamemError)), None)
            if failed is not None:
                raise failed
            return _pieces_result([o for o in outcomes if isinstance(o, CaptureResult)], split[1])
        with self._metrics.failures(caller.tenant_id, Counter.REMEMBER_ERRORS):
            result = await self._remember(caller, req)
        self._saved(caller, [result])
        return result

    def _split(self, req: MemoryCreate) -> tuple[list[MemoryCreate], str] | None:
        """The pieces of a write that asked to be split and is over the length cap, and the source ref they
        share; None for every other write (which keeps the length cap's rejection).

        Pieces are cut between sentences (`split_text`), keep the request's fields and source refs, add one
        generated ref (`split:<ulid>`) so forget by it removes them all, and record `metadata.split`
        (`sourceRef`, `part`, `of`) so a search result names its siblings. The worthiness gate is the whole
        text's (a text over the cap always passes it), so each piece is written with `force`.
        """
        cap = self._policy.max_content_chars
        content = req.content.strip()
        if not req.split or not cap or len(content) <= cap:
            return None
        ref = f"split:{ULID()}"
        refs = list(dict.fromkeys([*(req.source_refs or []), ref]))
        texts = split_text(content, cap)
        pieces = [
            req.model_copy(
                update={
                    "content": text,
                    "split": False,
                    "force": True,
                    "source_refs": refs,
                    "metadata": {**(req.metadata or {}), "split": {"sourceRef": ref, "part": n, "of": len(texts)}},
                }
            )
            for n, text in enumerate(texts, 1)
        ]
        return pieces, ref

    async def remember_many_split(
        self, caller: Caller, reqs: Sequence[MemoryCreate]
    ) -> list[CaptureResult | NovamemError]:
        """`remember_many`, where each request that asks for it (`split`) and is over the cap is stored as
        pieces (one result per request, naming its pieces; the first failed piece fails the request)."""
        expanded: list[MemoryCreate] = []
        spans: list[tuple[int, int, str | None]] = []  # (first piece, piece count, shared ref) per request
        for req in reqs:
            split = self._split(req)
            parts, ref = split if split is not None else ([req], None)
            spans.append((len(expanded), len(parts), ref))
            expanded.extend(parts)
        stored = await self.remember_many(caller, expanded)
        results: list[CaptureResult | NovamemError] = []
        for first, count, ref in spans:
            group = stored[first : first + count]
            failed = next((r for r in group if isinstance(r, NovamemError)), None)
            if ref is None or failed is not None:
                results.append(failed if failed is not None else group[0])
            else:
                results.append(_pieces_result([r for r in group if isinstance(r, CaptureResult)], ref))
        return results

    async def remember_batch(self, caller: Caller, req: RememberBatchRequest) -> RememberBatchResponse:
        """Many raw writes in one call (`POST /v1/remember/batch`), each with the rules of `remember`.

        A read-only token is refused as a whole (403). The bulk path always splits a text over the length
        cap. The entries go through `remember_many_split` (one dedup lookup, one embedding batch, one
        multi-row insert). An entry that `remember` would refuse with an error (an unknown project, a
        quota) answers `id: null` with that error's message; when every entry is refused that way, the
        first entry's error is raised, so the request answers exactly as `remember` would.
        """
        require_writer(caller)
        writes = [entry.model_copy(update={"split": True}) for entry in req.entries]
        outcomes = await self.remember_many_split(caller, writes)
        refused = [o for o in outcomes if isinstance(o, NovamemError)]
        if refused and len(refused) == len(outcomes):
            raise refused[0]
        results = [
            BatchItemResult(id=None, error=o.message)
            if isinstance(o, NovamemError)
            else BatchItemResult(**o.model_dump())
            for o in outcomes
        ]
        return RememberBatchResponse(saved=sum(1 for r in results if r.id is not None), results=results)

    def _saved(self, caller: Caller, results: Sequence[CaptureResult]) -> None:
        self._metrics.count(caller.tenant_id, Counter.REMEMBERS, sum(1 for r in results if r.id is not None))
        if self._after_write is not None and any(r.id is not None for r in results):
            self._after_write()

    async def _remember(self, caller: Caller, req: MemoryCreate) -> CaptureResult:
        await self._check_quota(caller)
        prepared = await self._prepare(caller, req, {})
        if isinstance(prepared, str):
            return CaptureResult(id=None, rejected=prepared)
        draft = prepared.draft
        duplicate, replace_id = await self._dedup(draft)
        if duplicate is not None:
            return duplicate
        return await self._insert_or_join(draft, await self._embedder.document(draft.content), replace_id)

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
        with self._metrics.failures(caller.tenant_id, Counter.REMEMBER_ERRORS):
            # one quota check for the batch; a duplicate among those admitted may leave room unused, never overfill
            admission = await self._admit(caller, len(reqs))
            for index, req in enumerate(reqs):
                if index >= admission.admitted:
                    assert admission.refusal is not None
                    results[index] = admission.refusal
                    continue
                try:
                    prepared = await self._prepare(caller, req, {})
                except (NotFound, Forbidden, InvalidInput, Conflict, RateLimited) as exc:
                    results[index] = exc
                    continue
                if isinstance(prepared, str):
                    results[index] = CaptureResult(id=None, rejected=prepared)
                else:
                    drafts.append((index, prepared.draft))
            fresh, replace_ids, twins = await self._merge_duplicates(caller, drafts, results)
            try:
                await self._insert_fresh(caller, fresh, replace_ids, results)
            except RateLimited as exc:  # a concurrent write took the room first: none of these was stored
                refused = {index for index, _ in fresh}
                for index in refused | {i for i, first in twins if first in refused}:
                    results[index] = exc
                twins = [(i, first) for i, first in twins if first not in refused]
        joins: list[tuple[str, str, Sequence[str]]] = []
        by_index = dict(drafts)
        for index, first in twins:  # the same content earlier in the batch: merged into what that item became
            settled = results[first]
            assert isinstance(settled, CaptureResult)
            results[index] = CaptureResult(id=settled.id, deduplicated=True, embedded=settled.embedded)
            if settled.id is not None:  # and the entry joins that item's namespace
                joins.append((settled.id, by_index[index].namespace, by_index[index].source_refs))
        await self._store.join_namespaces(caller.tenant_id, caller.organization_id, joins)
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
        joins: list[tuple[str, str, Sequence[str]]] = []
        for index, draft in drafts:
            key = (draft.scope_key, draft.content_hash)
            if key in live:
                entry = live[key]
                results[index] = CaptureResult(id=entry.id, deduplicated=True, embedded=entry.embedded)
                joins.append((entry.id, draft.namespace, draft.source_refs))
            elif key in first:
                twins.append((index, first[key]))
            else:
                first[key] = index
                fresh.append((index, draft))
        if live:
            # a re-remember counts a hit but never promotes (only search and context hits do)
            await self._store.touch(caller.tenant_id, [e.id for e in live.values()], promote=False)
            await self._store.join_namespaces(caller.tenant_id, caller.organization_id, joins)
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
            joins: list[tuple[str, str, Sequence[str]]] = []
            for index, draft in drafts:
                winner = found.get((draft.scope_key, draft.content_hash))
                if draft.id in inserted:
                    results[index] = CaptureResult(id=draft.id, embedded=draft.embedding is not None)
                elif winner is not None:  # a concurrent write stored the same content first: merged
                    results[index] = CaptureResult(id=winner.id, deduplicated=True, embedded=winner.embedded)
                    joins.append((winner.id, draft.namespace, draft.source_refs))
                else:  # that concurrent entry is already gone again: insert once more
                    retry.append((index, draft))
            await self._store.join_namespaces(caller.tenant_id, caller.organization_id, joins)
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
        await self._store.touch(existing.tenant_id, [existing.id], promote=False)
        # the entry becomes a member of this write's namespace too, so that namespace's reads find it
        await self._store.join_namespaces(
            existing.tenant_id, existing.organization_id, [(existing.id, draft.namespace, draft.source_refs)]
        )
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

    async def _insert_or_join(
        self,
        draft: EntryDraft,
        vector: list[float] | None,
        replace_id: str | None,
        supersede: tuple[str, dict[str, Any]] | None = None,
    ) -> CaptureResult:
        """`_insert`, except that when a concurrent write stored the same content first (the unique index
        refuses this row), this write joins that entry as an exact duplicate does."""
        for _ in range(INSERT_ROUNDS):
            try:
                return await self._insert(draft, vector, replace_id, supersede)
            except Conflict:
                duplicate, replace_id = await self._dedup(draft)
                if duplicate is not None:
                    return duplicate
        raise Unavailable(DATABASE_UNAVAILABLE)

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
        """Agent write: remember plus the near-duplicate guard (supersede or update in place).

        With `split`, a text over the length cap is captured as pieces under it (see `_split`)."""
        split = self._split(req)
        with self._metrics.failures(caller.tenant_id, Counter.REMEMBER_ERRORS):
            if split is not None:
                results: list[CaptureResult] = []
                try:
                    for piece in split[0]:
                        await self._check_quota(caller)
                        results.append(await self._capture(caller, piece, extra_meta, default_namespace))
                finally:
                    self._saved(caller, results)  # pieces stored before a failure stay stored
                return _pieces_result(results, split[1])
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
        return await self._insert_or_join(draft, vector, replace_id)

    async def _near_duplicate(
        self, target: WriteTarget, draft: EntryDraft, vector: list[float], replace_id: str | None
    ) -> CaptureResult | None:
        near = await self._store.nearest_active(target, draft.namespace, vector, NEAR_DUPLICATE_PROBE)
        # pieces of one split text never supersede or absorb each other
        piece_of = _split_ref(draft.metadata)
        match = next(
            (
                e
                for e, cos in near
                if cos >= self._policy.near_duplicate_cosine
                and (piece_of is None or _split_ref(e.metadata) != piece_of)
            ),
            None,
        )
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
            result = await self._insert_or_join(draft, vector, replace_id, supersede=(match.id, old_meta))
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
                fields={  # no namespace: the match is a member of the draft's already, and keeps its others
                    "metadata": merged,
                    "sensitivity": int(draft.sensitivity),
                    "source_type": draft.source_type,
                    "captured_from": draft.captured_from,
                    "expires_at": draft.expires_at,
                    # the newer write's time of the event, when it gives one
                    **({"occurred_at": draft.occurred_at} if draft.occurred_at is not None else {}),
                },
            )
            await self._store.add_source_refs(match, draft.source_refs, draft.namespace)
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
        if "occurred_at" in req.model_fields_set:  # an explicit null clears it
            fields["occurred_at"] = req.occurred_at
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
        if changed and self._after_write is not None:
            self._after_write()
        return UpdateResponse(id=entry.id, updated=True, embedding_changed=changed)

    async def forget(self, caller: Caller, req: ForgetRequest) -> ForgetResponse:
        """Delete one entry by `req.id`, or every entry in scope carrying `req.source_ref`; with
        `req.namespace`, only from that namespace (see `forget_by_id` and `forget_by_source`)."""
        if req.id is not None:
            return await self.forget_by_id(caller, req.id, req.project, req.namespace)
        assert req.source_ref is not None  # the request model holds exactly one of the two
        return await self.forget_by_source(caller, req.source_ref, req.project, req.namespace)

    async def forget_by_id(
        self, caller: Caller, entry_id: str, project: str | None, namespace: str | None = None
    ) -> ForgetResponse:
        """Delete one entry by id, from every namespace it is a member of (idempotent: an unknown id answers
        deleted=false). With `namespace`, take it out of that namespace only: `deleted` says it was there;
        the entry itself is deleted when that was its last namespace."""
        require_writer(caller)
        scope = await self._access.entry_scope(caller, project)
        entry = await self._store.get(scope, entry_id)
        if entry is None:
            # another user's or tenant's entry answers exactly like an id that does not exist
            return ForgetResponse(deleted=False, cold_delete_ok=True)
        if namespace is not None:
            left = await self._store.leave_namespace(scope, entry.id, namespace)
            self._metrics.count(caller.tenant_id, Counter.FORGETS, int(left))
            return ForgetResponse(deleted=left, cold_delete_ok=True)
        deleted = await self._store.delete(caller.tenant_id, [entry.id], organization_id=caller.organization_id)
        self._metrics.count(caller.tenant_id, Counter.FORGETS, len(deleted))
        return ForgetResponse(deleted=bool(deleted), cold_delete_ok=True)

    async def forget_by_source(
        self, caller: Caller, source_ref: str, project: str | None, namespace: str | None = None
    ) -> ForgetResponse:
        """Forget what was stored in scope with the exact source ref: each carrier leaves the namespaces the
        ref was given under (only `namespace`, when given) and is deleted once it is in none. `ids` are the
        carriers forgotten that way."""
        require_writer(caller)
        scope = await self._access.read_scope(caller, project=project)
        ids = await self._store.delete_by_source_ref(scope, source_ref, namespace)
        self._metrics.count(caller.tenant_id, Counter.FORGETS, len(ids))
        return ForgetResponse(source_ref=source_ref, ids=ids, count=len(ids), cold_delete_ok=True)
