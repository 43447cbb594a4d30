"""Composition root: builds engines and services from Settings into one typed object."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from novamem import __version__
from novamem.config import EmbeddingsProvider, GraphStore, Settings, VectorStore
from novamem.domain.facts import PiiRedactor
from novamem.embedding.base import Embedder
from novamem.embedding.chat import ChatModel
from novamem.embedding.rerank import HttpReranker
from novamem.errors import ConfigError
from novamem.observability.redaction import redactor
from novamem.services.agents.adoption import AdoptionService
from novamem.services.identity.access import AccessPolicy
from novamem.services.identity.audit import AuditService
from novamem.services.identity.authn import Authenticator, CookiePolicy
from novamem.services.identity.bootstrap import BootstrapService
from novamem.services.identity.mcp_sessions import McpSessions
from novamem.services.identity.quotas import QuotaService
from novamem.services.identity.service_keys import ServiceKeyService
from novamem.services.identity.session_jwt import SessionJwtService
from novamem.services.identity.sessions import SessionService
from novamem.services.identity.tenants import TenantService
from novamem.services.identity.tokens import TokenService
from novamem.services.identity.users import UserService
from novamem.services.memory.decompose import QueryDecomposer
from novamem.services.memory.diagnostics import DiagnosticsService
from novamem.services.memory.facts import FactExtractor
from novamem.services.memory.graph_rebuild import GraphRebuild
from novamem.services.memory.index_rebuild import VectorRebuild
from novamem.services.memory.index_sync import IndexSync
from novamem.services.memory.lifecycle import Reconciler
from novamem.services.memory.memories import EmbedderState, MemoryService, WritePolicy
from novamem.services.memory.recall import RecallService
from novamem.services.memory.rerank import Reranker
from novamem.services.memory.selfservice import SelfService
from novamem.services.memory.stages import RetrievalStages
from novamem.services.operations.admin import AdminService
from novamem.services.operations.backups import BackupService
from novamem.services.operations.dream import DreamService
from novamem.services.operations.fact_consolidation import FactConsolidator
from novamem.services.operations.health import HealthService
from novamem.services.operations.metrics import MetricsService
from novamem.services.operations.observer import ObserverService
from novamem.services.operations.operator import OperatorService
from novamem.services.operations.startup import ConnectionLimits, check_pool_capacity, log_startup_warnings
from novamem.services.operations.telemetry import TelemetryService
from novamem.services.operations.user_metrics import UserMetricsService
from novamem.services.projects.projects import ProjectService
from novamem.storage.backups import DatabaseDumps
from novamem.storage.base import Counters, LeaderLock, MemoryStore, VectorSpace
from novamem.storage.embedded import EmbeddedPostgres
from novamem.storage.graph_index import GraphSource
from novamem.storage.index_outbox import IndexSink
from novamem.storage.postgres.accounts import PostgresAccountStore
from novamem.storage.postgres.audit import PostgresAuditLog
from novamem.storage.postgres.capacity import read_connection_limits
from novamem.storage.postgres.changes import PostgresChangeFeed
from novamem.storage.postgres.counters import PostgresCounters
from novamem.storage.postgres.credentials import PostgresCredentialStore
from novamem.storage.postgres.database import Database, migrate
from novamem.storage.postgres.dream import PostgresDreamStore
from novamem.storage.postgres.dumps import PostgresDumps
from novamem.storage.postgres.entity_postings import file_unfiled
from novamem.storage.postgres.fact_consolidation import PostgresFactConsolidationStore
from novamem.storage.postgres.facts import PostgresFactStore
from novamem.storage.postgres.graph import PostgresGraph
from novamem.storage.postgres.index_outbox import PostgresIndexOutbox, PostgresRebuildCheckpoints
from novamem.storage.postgres.leader import PostgresLeaderLock
from novamem.storage.postgres.lifecycle import PostgresDecayLog
from novamem.storage.postgres.mcp_sessions import PostgresMcpSessionStore
from novamem.storage.postgres.memories import PostgresMemoryStore
from novamem.storage.postgres.metrics import PostgresMetricsStore
from novamem.storage.postgres.observer import PostgresObservationLogs
from novamem.storage.postgres.operations import (
    PostgresGauges,
    PostgresHealthProbe,
    PostgresInventory,
    PostgresJobRunLog,
)
from novamem.storage.postgres.projects import PostgresProjectStore
from novamem.storage.postgres.quotas import PostgresQuotaStore
from novamem.storage.postgres.selfservice import PostgresSelfServiceStore
from novamem.storage.postgres.service_keys import PostgresServiceKeyStore
from novamem.storage.postgres.signing_keys import PostgresSigningKeyStore
from novamem.storage.postgres.telemetry import PostgresTelemetry
from novamem.storage.postgres.tokens import PostgresTokenStore
from novamem.storage.postgres.user_metrics import PostgresUserMetricsStore
from novamem.storage.postgres.vector_source import PostgresVectorSource
from novamem.storage.vector_index import VectorIndex

if TYPE_CHECKING:
    from novamem.storage.falkordb.engine import FalkorGraphEngine

__all__ = [
    "Container",
    "build_backups",
    "build_embedder",
    "build_observer",
    "build_retrieval_stages",
    "database_at",
    "database_connection_limits",
    "migrate_database",
    "resolve_database_url",
]

log = logging.getLogger("novamem")


def build_embedder(settings: Settings) -> Embedder | None:
    """The configured embedder, loaded once (None when embeddings are switched off)."""
    if settings.embeddings_provider is EmbeddingsProvider.NONE:
        return None
    if settings.embeddings_provider is EmbeddingsProvider.BUILTIN:
        from novamem.embedding.builtin import BuiltinEmbedder

        return BuiltinEmbedder(max_batch=settings.embeddings_batch_max, cache_dir=settings.data_dir / "models")
    from novamem.embedding.openai import OpenAICompatibleEmbedder

    assert settings.embeddings_endpoint and settings.embeddings_model
    key = settings.embeddings_api_key.get_secret_value() if settings.embeddings_api_key else None
    return OpenAICompatibleEmbedder(
        endpoint=settings.embeddings_endpoint,
        model=settings.embeddings_model,
        dim=settings.embeddings_dim,
        api_key=key,
        timeout_s=settings.embeddings_timeout_ms / 1000,
        query_prefix=settings.embeddings_query_prefix,
        document_prefix=settings.embeddings_document_prefix,
        max_batch=settings.embeddings_batch_max,
    )


def build_retrieval_stages(settings: Settings) -> RetrievalStages:
    """The optional reranker and query decomposer, as configured (each absent when switched off)."""
    reranker: Reranker | None = None
    decomposer: QueryDecomposer | None = None
    if settings.rerank_enabled and settings.rerank_endpoint:
        timeout_s = settings.rerank_timeout_ms / 1000
        scorer = HttpReranker(
            endpoint=settings.rerank_endpoint,
            model=settings.rerank_model,
            api_key=settings.rerank_api_key.get_secret_value() if settings.rerank_api_key else None,
            request_format=settings.rerank_format,
            timeout_s=timeout_s,
        )
        reranker = Reranker(scorer, pool_multiplier=settings.rerank_pool_multiplier, timeout_s=timeout_s)
    if settings.query_decomp_enabled and settings.query_decomp_endpoint and settings.query_decomp_model:
        timeout_s = settings.query_decomp_timeout_ms / 1000
        chat = ChatModel(
            endpoint=settings.query_decomp_endpoint,
            model=settings.query_decomp_model,
            api_key=settings.query_decomp_api_key.get_secret_value() if settings.query_decomp_api_key else None,
            timeout_s=timeout_s,
        )
        decomposer = QueryDecomposer(chat, max_subqueries=settings.query_decomp_max_subqueries, timeout_s=timeout_s)
    return RetrievalStages(reranker, decomposer)


def build_fact_extractor(
    settings: Settings, database: Database, space: VectorSpace | None, embedder: EmbedderState
) -> FactExtractor | None:
    """The LLM fact extractor when `NOVAMEM_EXTRACTION_ENABLED` (None: no extraction, no debt written)."""
    if not (settings.extraction_enabled and settings.extraction_endpoint and settings.extraction_model):
        return None
    timeout_s = settings.extraction_timeout_ms / 1000
    key = settings.extraction_api_key.get_secret_value() if settings.extraction_api_key else None
    redactor.register(key)
    chat = ChatModel(
        endpoint=settings.extraction_endpoint, model=settings.extraction_model, api_key=key, timeout_s=timeout_s
    )
    return FactExtractor(
        PostgresFactStore(database, space),
        chat,
        embedder,
        max_concurrent=settings.extraction_max_concurrent,
        max_facts=settings.extraction_max_facts,
        timeout_s=timeout_s,
    )


def build_fact_consolidator(
    settings: Settings, database: Database, space: VectorSpace | None
) -> FactConsolidator | None:
    """The dream cycle's fact consolidation when `NOVAMEM_EXTRACTION_ENABLED` (the extraction model judges)."""
    if not (settings.extraction_enabled and settings.extraction_endpoint and settings.extraction_model):
        return None
    timeout_s = settings.extraction_timeout_ms / 1000
    key = settings.extraction_api_key.get_secret_value() if settings.extraction_api_key else None
    chat = ChatModel(
        endpoint=settings.extraction_endpoint, model=settings.extraction_model, api_key=key, timeout_s=timeout_s
    )
    return FactConsolidator(
        PostgresFactConsolidationStore(database, space),
        chat,
        timeout_s=timeout_s,
        concurrency=settings.extraction_max_concurrent,
    )


def build_observer(
    settings: Settings, database: Database, store: MemoryStore, access: AccessPolicy
) -> tuple[ObserverService | None, ChatModel | None]:
    """The observer and its chat model when `NOVAMEM_OBSERVER_ENABLED` (both None otherwise)."""
    if not (settings.observer_enabled and settings.observer_endpoint and settings.observer_model):
        return None, None
    timeout_s = settings.observer_timeout_ms / 1000
    chat = ChatModel(
        endpoint=settings.observer_endpoint,
        model=settings.observer_model,
        api_key=settings.observer_api_key.get_secret_value() if settings.observer_api_key else None,
        timeout_s=timeout_s,
    )
    observer = ObserverService(
        PostgresObservationLogs(database),
        store,
        access,
        chat,
        redact=PiiRedactor().redact,
        timeout_s=timeout_s,
        observe_threshold=settings.observer_observe_threshold,
        reflect_threshold=settings.observer_reflect_threshold,
    )
    return observer, chat


def build_vector_index(
    settings: Settings, database: Database, space: VectorSpace | None, *, serving: bool
) -> VectorIndex | None:
    """The Qdrant vector index when `NOVAMEM_VECTOR_STORE=qdrant` (None: pgvector answers vector search).

    Command-line tools that switch the embedder off (tokens, accounts) get none: they never search."""
    if settings.vector_store is not VectorStore.QDRANT:
        return None
    if space is None:
        if not serving:
            return None
        raise ConfigError("NOVAMEM_VECTOR_STORE=qdrant needs embeddings; NOVAMEM_EMBEDDINGS_PROVIDER is none")
    from novamem.storage.qdrant.vector_index import QdrantVectorIndex, open_client

    assert settings.qdrant_url is not None  # the settings refuse qdrant without a URL
    key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    timeout_s = settings.qdrant_timeout_ms / 1000
    try:
        client = open_client(settings.qdrant_url, key, timeout_s)
    except (ValueError, OSError, RuntimeError) as exc:  # e.g. a local-mode directory another process holds
        raise ConfigError(f"NOVAMEM_QDRANT_URL: cannot open the Qdrant client ({exc})") from exc
    return QdrantVectorIndex(client, space, PostgresVectorSource(database, space), timeout_s=timeout_s)


def build_graph_index(settings: Settings, source: GraphSource) -> FalkorGraphEngine | None:
    """FalkorDB when `NOVAMEM_GRAPH_STORE=falkordb` (None: PostgreSQL answers graph reads)."""
    if settings.graph_store is not GraphStore.FALKORDB:
        return None
    from novamem.storage.falkordb.engine import FalkorGraphEngine

    assert settings.falkordb_url is not None  # the settings refuse falkordb without a URL
    url = settings.falkordb_url.get_secret_value()
    password = urlsplit(url).password
    if password:
        redactor.register(password)  # driver errors that echo the URL must not show it in logs
    try:
        return FalkorGraphEngine.connect(url, timeout_s=settings.falkordb_timeout_ms / 1000, source=source)
    except ValueError as exc:  # a URL the client cannot parse
        raise ConfigError(f"NOVAMEM_FALKORDB_URL: {exc}") from None


def resolve_database_url(settings: Settings, *, take_over: bool = False) -> tuple[str, EmbeddedPostgres | None]:
    """The configured URL, or a started (or already running) embedded PostgreSQL and its URL."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value(), None
    embedded = EmbeddedPostgres(settings.data_dir, take_over=take_over)
    return embedded.start(), embedded


def _require_embedded_data(settings: Settings) -> None:
    """Command-line tools work on the server's embedded database; they never create one."""
    if not (settings.data_dir / "pg").is_dir():
        raise ConfigError(
            f"no embedded database in {settings.data_dir}; set NOVAMEM_DATA_DIR to the server's data "
            "directory, or NOVAMEM_DATABASE_URL"
        )


@contextmanager
def _command_database(settings: Settings) -> Iterator[str]:
    """The URL of the configured database for one command-line step. An embedded one that is running is
    shared, never stopped; one that is not is started for the step and stopped after it."""
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    _require_embedded_data(settings)
    url, embedded = resolve_database_url(settings)
    try:
        yield url
    finally:
        if embedded is not None:
            embedded.stop()


@contextmanager
def _configured_dumps(settings: Settings) -> Iterator[DatabaseDumps]:
    with _command_database(settings) as url:
        yield PostgresDumps(url)


def build_backups(settings: Settings, directory: Path | None = None) -> BackupService:
    """Backups of the configured database in `directory` (default: `NOVAMEM_BACKUP_DIR`); no server needs
    to run, and a running embedded database is shared, not stopped."""
    return BackupService(
        directory or settings.effective_backup_dir,
        database=lambda: _configured_dumps(settings),
        version=__version__,
    )


def database_at(url: str) -> DatabaseDumps:
    """Dumps of the database at `url` (the target of `novamem restore`, which needs no configuration)."""
    return PostgresDumps(url)


def database_connection_limits(settings: Settings) -> ConnectionLimits | None:
    """How many connections the configured database accepts; None when it is an embedded one that is not
    running (nothing is started to find out)."""
    if settings.database_url is None:
        _require_embedded_data(settings)
        if not EmbeddedPostgres(settings.data_dir).is_running():
            return None
    with _command_database(settings) as url:
        return ConnectionLimits(*read_connection_limits(url))


def migrate_database(settings: Settings) -> list[str]:
    """Apply pending migrations to the configured database (starting an embedded one for it); returns
    the names applied."""
    url, embedded = resolve_database_url(settings)
    try:
        return migrate(url)
    finally:
        if embedded is not None:
            embedded.stop()


def cookie_secret(settings: Settings) -> str:
    """The configured cookie secret, or (embedded database only) one generated once into the data dir."""
    if settings.cookie_secret is not None:
        return settings.cookie_secret.get_secret_value()
    path = settings.data_dir / "cookie-secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    log.warning("generated a cookie secret in %s (mode 0600); keep it with the data directory", path)
    return path.read_text().strip()


def build_authenticator(settings: Settings, database: Database) -> Authenticator:
    shared = settings.auth_token.get_secret_value() if settings.auth_token else None
    if not settings.auth_mode.has_accounts:
        return Authenticator(settings.auth_mode, shared_token=shared, cookies=None, credentials=None)
    secret = cookie_secret(settings)
    redactor.register(secret)  # a generated secret is known only now; logs must never show it
    cookies = CookiePolicy(secret=secret, secure=settings.secure_cookies)
    return Authenticator(
        settings.auth_mode,
        shared_token=shared,
        cookies=cookies,
        credentials=PostgresCredentialStore(database),
        service_keys=PostgresServiceKeyStore(database),
    )


@dataclass
class Container:
    """Everything the edges need, built once per process by the app's lifespan."""

    settings: Settings
    database: Database
    store: MemoryStore
    embedder: EmbedderState
    memories: MemoryService
    recall: RecallService
    reconciler: Reconciler
    leader_lock: LeaderLock
    authenticator: Authenticator
    access: AccessPolicy
    counters: Counters
    audit: AuditService
    tokens: TokenService
    sessions: SessionService
    users: UserService
    tenants: TenantService
    bootstrap: BootstrapService
    projects: ProjectService
    quotas: QuotaService
    selfservice: SelfService
    operator: OperatorService
    dream: DreamService
    metrics: MetricsService
    health: HealthService
    admin: AdminService
    diagnostics: DiagnosticsService
    mcp_sessions: McpSessions
    adoption: AdoptionService
    telemetry: TelemetryService
    user_metrics: UserMetricsService
    service_keys: ServiceKeyService
    # session JWTs (Better Auth's JWT plugin); None where users have no accounts
    session_jwt: SessionJwtService | None = None
    embedded: EmbeddedPostgres | None = None
    # the outbox drainer (started by the app) and the derived indexes it feeds; None/empty on pgvector alone
    index_sync: IndexSync | None = None
    vector_index: VectorIndex | None = None
    vector_rebuild: VectorRebuild | None = None
    graph_engine: FalkorGraphEngine | None = None
    graph_rebuild: GraphRebuild | None = None
    # the optional reranker and query decomposer of the read path (pass-through when neither is configured)
    stages: RetrievalStages = field(default_factory=RetrievalStages)
    # the optional LLM fact extractor (None when NOVAMEM_EXTRACTION_ENABLED is off)
    facts: FactExtractor | None = None
    # the observer (`NOVAMEM_OBSERVER_*`) and its chat model; None when it is switched off
    observer: ObserverService | None = None
    observer_chat: ChatModel | None = None
    extras: dict[str, object] = field(default_factory=dict)

    @classmethod
    async def build(cls, settings: Settings, *, serving: bool = False) -> Container:
        """`serving`: this is the server process, which owns the embedded database's lifetime."""
        url, embedded = await asyncio.to_thread(resolve_database_url, settings, take_over=serving)
        try:
            if serving:
                log_startup_warnings(settings)
                limits = ConnectionLimits(*await asyncio.to_thread(read_connection_limits, url))
                try:
                    check_pool_capacity(settings, limits)
                except ConfigError as exc:  # one readable line before the server's traceback
                    log.error("refusing to start: %s", exc.message)
                    raise
            await asyncio.to_thread(migrate, url)
            database = Database(url, max_size=settings.pg_pool_max, timeout=settings.pg_pool_timeout_ms / 1000)
            await database.open()
            embedder = await asyncio.to_thread(build_embedder, settings)
        except BaseException:
            if embedded is not None:
                embedded.stop()
            raise
        space = VectorSpace(embedder.model_id, embedder.dim) if embedder else None
        store = PostgresMemoryStore(
            database, space, decay_days=settings.decay_days, extract_facts=settings.extraction_enabled
        )
        queued = await store.prepare_vector_space()
        await file_unfiled(database)
        if queued:
            log.error(
                "embedding model changed to %s: %d entries queued for re-embedding",
                space.model if space else "-",
                queued,
            )
        state = EmbedderState(embedder)
        try:
            vectors = build_vector_index(settings, database, space, serving=serving)
        except BaseException:
            await database.close()
            if embedded is not None:
                embedded.stop()
            raise
        # every derived index fed through the outbox; the memory table queues items only for these
        sinks: list[IndexSink] = [vectors] if vectors is not None else []
        graph = PostgresGraph(database, store, store.scope_sizes)
        graph_engine = build_graph_index(settings, graph)
        if graph_engine is not None:
            sinks.append(graph_engine.sink)
        index_sync = IndexSync(PostgresIndexOutbox(database), sinks)
        await index_sync.prepare(serving=serving)
        projects = PostgresProjectStore(database)
        access = AccessPolicy(projects)
        policy = WritePolicy(
            max_content_chars=settings.max_content_chars,
            graph_fanout=settings.graph_link_fanout,
            near_duplicate_cosine=settings.effective_near_duplicate_cosine,
        )
        reconciler = Reconciler(
            store, state, batch=settings.embeddings_reconcile_batch, fanout=settings.graph_link_fanout
        )
        vector_rebuild = (
            VectorRebuild(
                vectors,
                PostgresVectorSource(database, space),
                PostgresRebuildCheckpoints(database),
                reconciler,
                store,
            )
            if vectors is not None and space is not None
            else None
        )
        authenticator = build_authenticator(settings, database)
        counters = PostgresCounters(database)
        audit = AuditService(PostgresAuditLog(database))
        accounts = PostgresAccountStore(database)
        tokens = TokenService(PostgresTokenStore(database), projects, access, authenticator, counters, audit)
        quotas = QuotaService(
            PostgresQuotaStore(database),
            counters,
            audit,
            max_entries=settings.quota_max_entries,
            writes_per_minute=settings.quota_writes_per_minute,
        )
        job_runs = PostgresJobRunLog(database)
        metrics = MetricsService(
            PostgresMetricsStore(database),
            PostgresGauges(database),
            job_runs,
            flush_interval_s=settings.metrics_flush_interval_ms / 1000,
            index_pending=index_sync.pending if index_sync.targets else None,
        )
        admin = AdminService(PostgresInventory(database), job_runs)
        health = HealthService(
            PostgresHealthProbe(database),
            state,
            metrics,
            indexes=index_sync if index_sync.targets else None,
            extraction=settings.extraction_enabled,
        )
        facts = build_fact_extractor(settings, database, space, state)
        memories = MemoryService(
            store, state, policy, access, quotas, metrics=metrics, after_write=facts.kick if facts else None
        )
        selfservice = SelfService(
            store=store,
            feed=PostgresChangeFeed(database),
            activity=PostgresSelfServiceStore(database),
            access=access,
            memories=memories,
            quotas=quotas,
            audit=audit,
        )
        session_jwt = (
            SessionJwtService(
                PostgresSigningKeyStore(database),
                accounts,
                secret=authenticator.cookies.secret,
                issuer=settings.public_base_url,
            )
            if authenticator.cookies is not None
            else None
        )
        stages = build_retrieval_stages(settings)
        observer, observer_chat = build_observer(settings, database, store, access)
        return cls(
            observer=observer,
            observer_chat=observer_chat,
            settings=settings,
            stages=stages,
            facts=facts,
            database=database,
            store=store,
            embedder=state,
            memories=memories,
            recall=RecallService(
                store,
                state,
                access,
                min_vector_score=settings.effective_min_vector_score,
                metrics=metrics,
                vectors=vectors,
                links=graph,
                graph_index=graph_engine.reader if graph_engine is not None else None,
                stages=stages,
            ),
            reconciler=reconciler,
            leader_lock=PostgresLeaderLock(url),
            authenticator=authenticator,
            access=access,
            counters=counters,
            audit=audit,
            tokens=tokens,
            adoption=AdoptionService(settings.auth_mode),
            mcp_sessions=McpSessions(
                PostgresMcpSessionStore(database),
                cap=settings.max_sessions_per_user,
                idle_seconds=settings.mcp_session_idle_minutes * 60,
            ),
            sessions=SessionService(accounts, counters, audit, cookies=authenticator.cookies),
            users=UserService(accounts, audit, minter=tokens),
            tenants=TenantService(accounts, audit, mode=settings.auth_mode),
            bootstrap=BootstrapService(accounts),
            projects=ProjectService(projects, access, audit),
            quotas=quotas,
            selfservice=selfservice,
            operator=OperatorService(
                store, PostgresDecayLog(database), decay_days=settings.decay_days, metrics=metrics, admin=admin
            ),
            dream=DreamService(
                PostgresDreamStore(database, space),
                admin=admin,
                facts=build_fact_consolidator(settings, database, space),
            ),
            metrics=metrics,
            health=health,
            telemetry=TelemetryService(PostgresTelemetry(database), job_runs, health),
            user_metrics=UserMetricsService(
                PostgresUserMetricsStore(database),
                PostgresTokenStore(database),
                metrics,
                flush_interval_s=settings.metrics_flush_interval_ms / 1000,
            ),
            service_keys=ServiceKeyService(PostgresServiceKeyStore(database), audit),
            admin=admin,
            diagnostics=DiagnosticsService(
                store,
                access,
                state,
                max_content_chars=settings.max_content_chars,
                personal_terms=policy.personal_terms,
            ),
            session_jwt=session_jwt,
            embedded=embedded,
            index_sync=index_sync,
            vector_index=vectors,
            vector_rebuild=vector_rebuild,
            graph_engine=graph_engine,
            graph_rebuild=GraphRebuild(graph, graph_engine.sink) if graph_engine is not None else None,
        )

    async def close(self) -> None:
        if self.index_sync is not None:
            await self.index_sync.stop()
        if self.vector_index is not None:
            await self.vector_index.close()
        if self.graph_engine is not None:
            await self.graph_engine.close()
        await self.recall.close()  # writes the search hits still waiting for their window
        await self.user_metrics.stop()  # flushes what this replica counted since the last flush
        await self.metrics.stop()  # flushes what this replica counted since the last flush
        await self.leader_lock.release()
        await self.stages.close()
        if self.facts is not None:
            await self.facts.close()
        await self.dream.close()
        if self.observer_chat is not None:
            await self.observer_chat.close()
        if self.embedder.embedder is not None:
            await self.embedder.embedder.close()
        await self.store.settle()
        await self.database.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
