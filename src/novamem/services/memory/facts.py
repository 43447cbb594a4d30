"""Optional LLM fact extraction, off the write path.

A write of a non-fact memory records its extraction debt in its own statement (`facts_pending_at`); nothing
is called while the write waits. This service drains the debt: it claims due entries (leased, so replicas and
overlapping passes never extract the same version twice at once), redacts PII from each text, asks the chat
model for typed facts (bounded concurrency, a time limit per answer), embeds them, and lands them as
`source_type: fact` entries linked to their source. Landing re-checks the source under a row lock: an
extraction whose source was updated or deleted since it was claimed is discarded, so no stale fact ever
lands. A model that is down, slow, or answers garbage leaves the debt due again later, with backoff.
"""

from __future__ import annotations

import asyncio
import logging

from ulid import ULID

from novamem.domain.entries import content_hash
from novamem.domain.facts import (
    EXTRACTION_MAX_TOKENS,
    EXTRACTION_PROMPT,
    ExtractedFact,
    PiiRedactor,
    extraction_input,
    parse_facts,
)
from novamem.errors import Conflict, InvalidInput, NovamemError, Unavailable
from novamem.services.memory.decompose import ChatReplier
from novamem.services.memory.memories import EmbedderState
from novamem.storage.facts import FactDraft, FactStore, OwedExtraction

__all__ = ["BACKOFF_BASE_S", "BACKOFF_MAX_S", "FACTS_DRAIN_INTERVAL_S", "LEASE_MARGIN_S", "FactExtractor"]

log = logging.getLogger("novamem.facts")

FACTS_DRAIN_INTERVAL_S = 5.0  # how often the leader looks for due debts (writes also start a drain at once)
LEASE_MARGIN_S = 60.0  # a claim outlives the answer's time limit by this much before another drain may retry
BACKOFF_BASE_S = 30.0  # first retry after a failure; doubled per failed attempt
BACKOFF_MAX_S = 3600.0


class FactExtractor:
    """Drains extraction debts with at most `max_concurrent` model calls in flight."""

    def __init__(
        self,
        store: FactStore,
        chat: ChatReplier,
        embedder: EmbedderState,
        *,
        max_concurrent: int,
        max_facts: int,
        timeout_s: float,
        redactor: PiiRedactor | None = None,
    ) -> None:
        self._store = store
        self._chat = chat
        self._embedder = embedder
        self._max_concurrent = max_concurrent
        self._max_facts = max_facts
        self._timeout_s = timeout_s
        self._redactor = redactor or PiiRedactor()
        self._drain: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[int]] = set()

    async def run_once(self) -> int:
        """Claim up to `max_concurrent` due debts, extract them concurrently and wait for all of them;
        returns the facts landed. An entry that failed on the database keeps its debt (its lease runs out
        and a later pass retries it); the others still land."""
        owed = await self._store.claim_owed(self._max_concurrent, self._lease_s)
        return sum(await asyncio.gather(*(self._extract_logged(o) for o in owed)))

    def kick(self) -> None:
        """Drain what is due now, in the background: up to `max_concurrent` extractions in flight, a freed
        slot taking the next due debt, until none is due (a running drain just looks again)."""
        if self._drain is not None and not self._drain.done():
            self._wake.set()
            return
        self._drain = asyncio.create_task(self._drain_due(), name="novamem-fact-extraction")

    async def run_pass(self) -> dict[str, int]:
        """The scheduled job: start a background drain and report the debt (the job never waits on the model)."""
        self.kick()
        return {"pending": await self._store.count_owed()}

    async def pending(self) -> int:
        """Entries owing an extraction, across the deployment."""
        return await self._store.count_owed()

    async def idle(self) -> None:
        """Wait until the background drain (if any) has finished."""
        while self._drain is not None and not self._drain.done():
            await asyncio.wait({self._drain})

    async def close(self) -> None:
        """Stop the background drain and its extractions, and close the model's connections."""
        tasks = [t for t in (self._drain, *self._inflight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._drain = None
        await self._chat.close()

    @property
    def _lease_s(self) -> float:
        return self._timeout_s + LEASE_MARGIN_S

    async def _drain_due(self) -> None:
        try:
            while True:
                self._wake.clear()
                free = self._max_concurrent - len(self._inflight)
                if free > 0:
                    for owed in await self._store.claim_owed(free, self._lease_s):
                        task = asyncio.create_task(self._extract_logged(owed))
                        self._inflight.add(task)
                        task.add_done_callback(self._inflight.discard)
                if not self._inflight:
                    if self._wake.is_set():  # a write landed while the claim ran: its debt may be due now
                        continue
                    return
                woken = asyncio.create_task(self._wake.wait())
                await asyncio.wait({*self._inflight, woken}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
        except NovamemError as exc:  # the database: the debts stay and the next pass retries them
            log.warning("fact extraction paused: %s", exc.message)

    async def _extract_logged(self, owed: OwedExtraction) -> int:
        """`_extract`, with a database failure logged (the debt stays; its lease runs out, then it is retried)."""
        try:
            return await self._extract(owed)
        except NovamemError as exc:
            log.warning("fact extraction of %s could not be stored: %s", owed.id, exc.message)
            return 0
        except Exception:  # a background task has nobody to raise to: log it with its trace, the debt stays
            log.exception("fact extraction of %s crashed", owed.id)
            return 0

    async def _extract(self, owed: OwedExtraction) -> int:
        """One entry: ask, parse, embed, land (or back off); returns the facts landed."""
        prompt = extraction_input(self._redactor.redact(owed.content), owed.written_at)
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await self._chat.reply(EXTRACTION_PROMPT, prompt, max_tokens=EXTRACTION_MAX_TOKENS)
        except Unavailable as exc:
            return await self._failed(owed, exc.message)
        except TimeoutError:
            return await self._failed(owed, f"no answer within {self._timeout_s * 1000:.0f} ms")
        facts = parse_facts(answer, max_facts=self._max_facts)
        if facts is None:
            return await self._failed(owed, "the answer held no JSON array")
        vectors = await self._embedder.documents([f.content for f in facts]) if facts else None
        drafts = [self._draft(owed, f, vectors[i] if vectors else None) for i, f in enumerate(facts)]
        try:
            landed = await self._store.land(owed, drafts)
        except (InvalidInput, Conflict) as exc:  # facts the database refuses: back off like a bad answer
            return await self._failed(owed, f"the facts could not be stored ({exc.message})")
        if landed is None:
            log.info("discarded the facts of %s: it changed or was deleted during the extraction", owed.id)
            return 0
        return landed

    def _draft(self, owed: OwedExtraction, fact: ExtractedFact, vector: list[float] | None) -> FactDraft:
        return FactDraft(
            id=str(ULID()),
            content=fact.content,
            content_hash=content_hash(fact.content),
            metadata=fact.metadata(owed.id, owed.sensitivity),
            occurred_at=fact.occurred,
            embedding=vector,
        )

    async def _failed(self, owed: OwedExtraction, reason: str) -> int:
        delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**owed.attempts)
        log.warning("fact extraction of %s failed (%s); retrying in %.0f s", owed.id, reason, delay)
        await self._store.defer(owed, delay)
        return 0
