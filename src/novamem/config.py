"""Typed settings read from `NOVAMEM_*` variables (and an optional `.env` file), plus start-up refusals.

Settings are built once by the command line and handed down; nothing else reads the environment.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from novamem.errors import ConfigError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "AuthMode",
    "EmbeddingsProvider",
    "GraphStore",
    "RerankFormat",
    "Settings",
    "VectorStore",
    "endpoint_exposure",
    "is_loopback_host",
    "load_settings",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7778
DEFAULT_POOL_MAX = 20
DEFAULT_MAX_CONTENT_CHARS = 4000
DEFAULT_BUILTIN_MIN_VECTOR_SCORE = 0.25
DEFAULT_BUILTIN_NEAR_DUPLICATE = 0.85
DEFAULT_NEAR_DUPLICATE = 0.92
MIN_COOKIE_SECRET = 32
BOOTSTRAP_PASSWORD_VAR = "NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD"
# Values people paste from examples; refused as cookie secrets whatever their length.
PLACEHOLDER_SECRETS = (
    "change-me",
    "changeme",
    "replace-me",
    "replace-with-a-random-secret",
    "your-secret",
    "secret",
    "example",
    "placeholder",
    "xxxxxxxx",
)


def is_placeholder_secret(secret: str) -> bool:
    """True for secrets built from well-known placeholder words (case and separators ignored)."""
    folded = "".join(ch for ch in secret.lower() if ch.isalnum())
    if len(set(folded)) <= 3:
        return True
    words = {"".join(ch for ch in p if ch.isalnum()) for p in PLACEHOLDER_SECRETS}
    return any(w and w in folded for w in words if len(w) >= 6)


# What the deployment templates (deploy/compose/.env.example) write where a generated secret belongs.
_TEMPLATE_PLACEHOLDERS = ("changeme", "replaceme", "placeholder")


def _is_template_placeholder(secret: str) -> bool:
    """True for a value left as a template's placeholder (`change-me-…`), case and separators ignored."""
    folded = "".join(ch for ch in secret.lower() if ch.isalnum())
    return any(word in folded for word in _TEMPLATE_PLACEHOLDERS)


class AuthMode(StrEnum):
    """How callers prove who they are."""

    NONE = "none"
    BEARER = "bearer"
    USER = "user"
    TENANT = "tenant"

    @property
    def has_accounts(self) -> bool:
        """Users, sessions and `nm_` tokens exist (the `user` and `tenant` modes)."""
        return self in (AuthMode.USER, AuthMode.TENANT)


class EmbeddingsProvider(StrEnum):
    """Where vectors come from."""

    BUILTIN = "builtin"
    OPENAI_COMPATIBLE = "openai-compatible"
    NONE = "none"


class VectorStore(StrEnum):
    """Which engine answers the vector phase of search (PostgreSQL keeps every vector either way)."""

    PGVECTOR = "pgvector"
    QDRANT = "qdrant"


# the local-mode form of NOVAMEM_QDRANT_URL: qdrant-client's embedded engine over files in a directory
QDRANT_PATH_PREFIX = "path:"
DEFAULT_QDRANT_TIMEOUT_MS = 2000


class GraphStore(StrEnum):
    """Which engine answers graph reads (PostgreSQL keeps every edge either way)."""

    POSTGRES = "postgres"
    FALKORDB = "falkordb"


DEFAULT_FALKORDB_TIMEOUT_MS = 2000
FALKORDB_URL_SCHEMES = ("redis", "rediss", "falkor", "falkors", "unix")


class RerankFormat(StrEnum):
    """The request and answer shape of a `/rerank` endpoint."""

    COHERE = "cohere"  # {model, query, documents, top_n} -> {results: [{index, relevance_score}]}: Cohere, Jina, vLLM
    TEI = "tei"  # {query, texts} -> [{index, score}]: Hugging Face text-embeddings-inference


DEFAULT_RERANK_POOL_MULTIPLIER = 4
DEFAULT_RERANK_TIMEOUT_MS = 5000
DEFAULT_QUERY_DECOMP_MAX_SUBQUERIES = 3
DEFAULT_QUERY_DECOMP_TIMEOUT_MS = 8000
DEFAULT_EXTRACTION_TIMEOUT_MS = 120000
DEFAULT_EXTRACTION_MAX_CONCURRENT = 12
DEFAULT_EXTRACTION_MAX_FACTS = 8
DEFAULT_OBSERVER_OBSERVE_THRESHOLD = 10
DEFAULT_OBSERVER_REFLECT_THRESHOLD = 50
DEFAULT_OBSERVER_TIMEOUT_MS = 30000


class LogLevel(StrEnum):
    """Lowest level of log lines written."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @classmethod
    def _missing_(cls, value: object) -> LogLevel | None:
        # `warn` is what most operators type (and what the reference documents)
        if isinstance(value, str) and value.strip().lower() == "warn":
            return cls.WARNING
        if isinstance(value, str) and value.strip().lower() != value:
            return cls(value.strip().lower())
        return None


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("novamem", appauthor=False))


class Settings(BaseSettings):
    """Every setting of the server; the field descriptions are the configuration docs."""

    model_config = SettingsConfigDict(
        env_prefix="NOVAMEM_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    host: str = Field(DEFAULT_HOST, description="Address the HTTP server binds to.")
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="TCP port of the HTTP server.")
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Directory for the embedded PostgreSQL, the built-in model's converted copy (`models/`) and "
        "other local state (default: the per-user data directory, e.g. `~/.local/share/novamem`).",
    )
    database_url: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("NOVAMEM_DATABASE_URL", "NOVAMEM_WARM_URL"),
        description="PostgreSQL URL (`postgresql://user:pass@host:5432/db`); alias `NOVAMEM_WARM_URL`. "
        "Unset: an embedded PostgreSQL is started inside the data directory.",
    )
    require_external_database: bool = Field(
        False,
        description="Refuse to start without `NOVAMEM_DATABASE_URL` instead of starting the embedded "
        "PostgreSQL (the container image sets it: a container's data directory is not a database's home).",
    )
    pg_pool_max: int = Field(
        DEFAULT_POOL_MAX,
        ge=1,
        le=1000,
        description="Most connections the pool opens; keep below `max_connections` / replicas.",
    )
    pg_pool_timeout_ms: int = Field(
        5000,
        ge=100,
        le=120000,
        description="How long a request waits for a database connection before answering 503.",
    )
    auth_mode: AuthMode = Field(
        AuthMode.USER,
        description="`user` (users with dashboard sessions and `nm_` API tokens, one tenant), `tenant` "
        "(as `user`, with several tenants created by a server admin), `bearer` (one shared token in "
        "`NOVAMEM_AUTH_TOKEN`) or `none` (development only; refused unless the host is a loopback address).",
    )
    auth_token: SecretStr | None = Field(
        None, description="Shared bearer token for `bearer` mode (at least 16 characters)."
    )
    cookie_secret: SecretStr | None = Field(
        None,
        description="Signs dashboard session cookies (at least 32 characters; changing it ends every session). "
        "Unset with the embedded database: generated once and kept in the data directory. Required with "
        "`NOVAMEM_DATABASE_URL` (every replica must share it).",
    )
    insecure_cookies: bool = Field(
        False, description="Send session cookies without `Secure` (plain-HTTP development only)."
    )
    base_url: str | None = Field(
        None,
        description="The public origin browsers use (for example `https://memory.example.com`); trusted for "
        "sign-in CSRF checks. Default `http://<host>:<port>`.",
    )
    cors_origins: str = Field(
        "http://localhost:5173",
        description="Comma-separated browser origins allowed to call the API; also trusted for CSRF checks.",
    )
    bootstrap_admin_email: str | None = Field(
        None, description="Email of the first admin, created only while no admin exists."
    )
    bootstrap_admin_password: SecretStr | None = Field(
        None,
        description="Password of the first admin (8–256 characters; must be changed at first sign-in). "
        "Removed from the environment after reading; unset it once the admin exists.",
    )
    quota_max_entries: int = Field(0, ge=0, description="Default per-user cap on stored entries (0 = unlimited).")
    quota_writes_per_minute: int = Field(
        0, ge=0, description="Default per-user writes per minute, across all replicas (0 = unlimited)."
    )
    max_sessions_per_user: int = Field(
        10, ge=1, le=10000, description="Open MCP sessions one user may hold at once, across all replicas."
    )
    mcp_session_idle_minutes: int = Field(
        30, ge=1, le=10080, description="An MCP session unused for this long is closed."
    )
    sse_keepalive_ms: int = Field(
        25000, ge=100, le=600000, description="Interval of the keep-alive comments on a `GET /mcp` stream."
    )
    max_content_chars: int = Field(
        DEFAULT_MAX_CONTENT_CHARS,
        ge=0,
        description="Longest memory accepted after trimming, in characters (0 disables the cap).",
    )
    embeddings_provider: EmbeddingsProvider = Field(
        EmbeddingsProvider.BUILTIN,
        description="`builtin` (offline MiniLM, 384 dims), `openai-compatible` (an `/embeddings` "
        "endpoint) or `none` (keyword search only).",
    )
    embeddings_endpoint: str | None = Field(
        None, description="Base URL of the OpenAI-compatible API (the server posts to `<url>/embeddings`)."
    )
    embeddings_model: str | None = Field(None, description="Model name sent to the OpenAI-compatible API.")
    embeddings_api_key: SecretStr | None = Field(None, description="Bearer key for the embeddings API.")
    embeddings_dim: int = Field(384, ge=2, le=4096, description="Vector dimension of the embeddings API.")
    embeddings_timeout_ms: int = Field(30000, ge=100, description="Timeout of one embeddings call.")
    embeddings_query_prefix: str | None = Field(
        None, description="Text put before queries (unset: inferred from the model name; empty: none)."
    )
    embeddings_document_prefix: str | None = Field(
        None, description="Text put before stored memories (unset: inferred; empty: none)."
    )
    embeddings_batch_max: int = Field(
        32, ge=1, le=512, description="Most texts embedded in one batch (requests are batched together)."
    )
    embeddings_reconcile_interval_ms: int = Field(
        60000, ge=0, description="How often owed embeddings are retried (0 disables the reconciler)."
    )
    embeddings_reconcile_batch: int = Field(
        400,
        ge=1,
        description="Rows embedded per reconciler pass; while full batches are owed (after a change of "
        "embedding model), one tick runs passes back to back for up to 20 s.",
    )
    decay_days: float = Field(
        7,
        gt=0,
        le=3650,
        description="Decay base in days: an unused memory turns cold after this long, and each doubling of "
        "its hits adds this much again (lifespan = base × log2(hits + 1)). A memory's own "
        "`metadata.retention.baseEffectiveDays` takes precedence.",
    )
    decay_interval_ms: int = Field(
        21_600_000,
        ge=0,
        description="How often the decay pass (demotion to cold, expiry purge) runs, on one replica (0 disables "
        "the periodic pass; `POST /v1/decay` still runs it).",
    )
    search_min_vector_score: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Vector-only noise floor. Unset: 0.25 for the built-in model, 0 (off) for any "
        "other model, because cosine scales differ between models.",
    )
    capture_near_duplicate_cosine: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Cosine at which capture treats a memory as a near-duplicate of a stored one. Unset: "
        "0.85 for the built-in model, 0.92 for other models (cosine scales differ between models).",
    )
    graph_link_fanout: int = Field(
        3, ge=0, le=20, description="`co_occurs` edges written to nearest neighbours per write (0 disables)."
    )
    jobs_enabled: bool = Field(
        True,
        description="Run background jobs (reconciler, decay, expiry purge) in this replica; one leader "
        "runs them per deployment either way.",
    )
    metrics_flush_interval_ms: int = Field(
        5000,
        ge=100,
        le=300000,
        description="How often this replica adds its metric counts to the shared totals in PostgreSQL.",
    )
    log_level: LogLevel = Field(
        LogLevel.INFO,
        validation_alias=AliasChoices("NOVAMEM_LOG_LEVEL", "LOG_LEVEL"),
        description="Lowest level of the JSON log lines written to stdout: debug, info, warn or error.",
    )
    # ---- hardening (public internet) -----------------------------------------------------------------------
    rate_limit_per_minute: int = Field(
        600,
        ge=0,
        description="Requests per minute per client IP, one budget across all replicas (0 disables). Never "
        "applied to /health, /live, /ready or an open MCP keep-alive stream.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated IPs or CIDR ranges of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed; from anyone else they are ignored.",
    )
    admin_dashboard: bool = Field(
        True,
        description="Serve /admin and /v1/admin/metrics{,/prom}; 0 makes them answer 404 for everyone.",
    )
    allow_insecure_endpoints: bool = Field(
        False,
        description="Allow a plain-HTTP embeddings, rerank, decomposition, extraction or observer endpoint whose "
        "host is public (or does not resolve); refused at start-up otherwise.",
    )
    backup_dir: Path | None = Field(
        None,
        description="Where `novamem backup` writes dumps and `novamem doctor` looks for them "
        "(default: the data dir's backups folder).",
    )
    # ---- vector index ---------------------------------------------------------------------------------------
    vector_store: VectorStore = Field(
        VectorStore.PGVECTOR,
        validation_alias=AliasChoices("NOVAMEM_VECTOR_STORE", "NOVAMEM_COLD_PROVIDER"),
        description="Engine of the vector phase of search: `pgvector` (PostgreSQL) or `qdrant` (fed from "
        "PostgreSQL through the index outbox; PostgreSQL keeps every vector).",
    )
    qdrant_url: str | None = Field(
        None,
        validation_alias=AliasChoices("NOVAMEM_QDRANT_URL", "NOVAMEM_COLD_URL"),
        description="Qdrant's REST URL (`http://qdrant:6333`), required with NOVAMEM_VECTOR_STORE=qdrant; "
        "`path:<directory>` runs qdrant-client's embedded local mode instead (tests, one machine).",
    )
    qdrant_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("NOVAMEM_QDRANT_API_KEY", "NOVAMEM_COLD_API_KEY"),
        description="Qdrant API key (sent as `api-key`).",
    )
    qdrant_timeout_ms: int = Field(
        DEFAULT_QDRANT_TIMEOUT_MS,
        ge=50,
        le=120000,
        description="Longest wait for one Qdrant call; a search past it answers from pgvector, `degraded`.",
    )
    # ---- graph index ----------------------------------------------------------------------------------------
    graph_store: GraphStore = Field(
        GraphStore.POSTGRES,
        description="Engine of graph reads (neighbour walks, the graph signal): `postgres` or `falkordb` (one "
        "graph per tenant, fed from PostgreSQL through the index outbox; PostgreSQL keeps every edge).",
    )
    falkordb_url: SecretStr | None = Field(
        None,
        description="FalkorDB URL (`redis://:password@falkordb:6379`; also `rediss://`, `falkor://`, "
        "`falkors://`, `unix://`), required with NOVAMEM_GRAPH_STORE=falkordb.",
    )
    falkordb_timeout_ms: int = Field(
        DEFAULT_FALKORDB_TIMEOUT_MS,
        ge=50,
        le=120000,
        description="Longest wait for one FalkorDB call; a graph read past it answers from PostgreSQL, `degraded`.",
    )
    # ---- optional retrieval stages ------------------------------------------------------------------------
    rerank_enabled: bool = Field(
        False,
        description="Re-order the fused candidates of search and context with a cross-encoder at "
        "`NOVAMEM_RERANK_ENDPOINT`; a request's `rerank: false` opts out. A reranker that fails or is slower "
        "than `NOVAMEM_RERANK_TIMEOUT_MS` leaves the fused order (`degraded: true`).",
    )
    rerank_endpoint: str | None = Field(
        None, description="Full URL of the reranker (for example `http://tei:8080/rerank`), required when enabled."
    )
    rerank_model: str | None = Field(
        None, description="Model name sent to the reranker; required with the `cohere` format."
    )
    rerank_api_key: SecretStr | None = Field(None, description="Bearer key for the reranker.")
    rerank_format: RerankFormat = Field(
        RerankFormat.COHERE,
        description="Request shape: `cohere` (`{model, query, documents, top_n}`: Cohere, Jina, vLLM, Infinity, "
        "LiteLLM) or `tei` (`{query, texts}`: text-embeddings-inference).",
    )
    rerank_pool_multiplier: int = Field(
        DEFAULT_RERANK_POOL_MULTIPLIER,
        ge=1,
        le=20,
        description="The reranker scores the best `k` × this fused candidates.",
    )
    rerank_timeout_ms: int = Field(
        DEFAULT_RERANK_TIMEOUT_MS,
        ge=50,
        le=120000,
        description="Longest wait for the reranker; past it the fused order stands (`degraded: true`).",
    )
    query_decomp_enabled: bool = Field(
        False,
        description="Let a request's `decompose: true` split a complex question into sub-queries with the "
        "OpenAI-compatible chat model at `NOVAMEM_QUERY_DECOMP_ENDPOINT`; their results are fused.",
    )
    query_decomp_endpoint: str | None = Field(
        None,
        description="Base URL of the OpenAI-compatible API (the server posts to `<url>/chat/completions`), "
        "required when enabled.",
    )
    query_decomp_model: str | None = Field(None, description="Chat model name, required when enabled.")
    query_decomp_api_key: SecretStr | None = Field(None, description="Bearer key for the decomposition API.")
    query_decomp_max_subqueries: int = Field(
        DEFAULT_QUERY_DECOMP_MAX_SUBQUERIES,
        ge=1,
        le=5,
        description="Most sub-queries searched besides the original question.",
    )
    query_decomp_timeout_ms: int = Field(
        DEFAULT_QUERY_DECOMP_TIMEOUT_MS,
        ge=50,
        le=120000,
        description="Longest wait for the chat model; past it the original question is searched alone.",
    )
    extraction_enabled: bool = Field(
        False,
        description="Extract typed facts from each written or rewritten memory with the OpenAI-compatible chat "
        "model at `NOVAMEM_EXTRACTION_ENDPOINT`, off the write path: the write records the debt, a background "
        "drain (one replica) sends the PII-redacted text and stores the facts as `source_type: fact` entries "
        "linked to their source, deleted with it and re-extracted when it changes.",
    )
    extraction_endpoint: str | None = Field(
        None,
        description="Base URL of the OpenAI-compatible API for fact extraction (the server posts to "
        "`<url>/chat/completions`), required when enabled.",
    )
    extraction_model: str | None = Field(None, description="Fact-extraction chat model name, required when enabled.")
    extraction_api_key: SecretStr | None = Field(None, description="Bearer key for the fact-extraction API.")
    extraction_timeout_ms: int = Field(
        DEFAULT_EXTRACTION_TIMEOUT_MS,
        ge=50,
        le=600000,
        description="Longest wait for one extraction answer; past it the memory's extraction is retried later "
        "with backoff.",
    )
    extraction_max_concurrent: int = Field(
        DEFAULT_EXTRACTION_MAX_CONCURRENT,
        ge=1,
        le=256,
        description="Most extraction model calls in flight at once (each drain, and each dream cycle's fact "
        "consolidation).",
    )
    extraction_max_facts: int = Field(
        DEFAULT_EXTRACTION_MAX_FACTS, ge=1, le=64, description="Most facts kept from one memory's extraction."
    )
    observer_enabled: bool = Field(
        False,
        description="Keep each user's short, dated log of what matters, written by the OpenAI-compatible chat "
        "model at `NOVAMEM_OBSERVER_ENDPOINT` from their new memories, served by `GET /v1/context-prefix`.",
    )
    observer_endpoint: str | None = Field(
        None,
        description="Base URL of the observer's OpenAI-compatible API (the server posts to "
        "`<url>/chat/completions`), required when enabled.",
    )
    observer_model: str | None = Field(None, description="The observer's chat model name, required when enabled.")
    observer_api_key: SecretStr | None = Field(None, description="Bearer key for the observer's API.")
    observer_observe_threshold: int = Field(
        DEFAULT_OBSERVER_OBSERVE_THRESHOLD,
        ge=1,
        le=1000,
        description="New memories (namespace `default`) a log needs before the scheduled pass observes them.",
    )
    observer_reflect_threshold: int = Field(
        DEFAULT_OBSERVER_REFLECT_THRESHOLD,
        ge=5,
        le=1000,
        description="Bullets past which a log is condensed by the model (merged, stale ones dropped).",
    )
    observer_timeout_ms: int = Field(
        DEFAULT_OBSERVER_TIMEOUT_MS,
        ge=100,
        le=600000,
        description="Longest wait for the observer's model; past it the pass changes nothing and is retried.",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "NOVAMEM_OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector base URL; traces go to <url>/v1/traces. Unset: no tracing at all.",
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "NOVAMEM_OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        ),
        description="Full OTLP/HTTP traces URL; overrides OTEL_EXPORTER_OTLP_ENDPOINT for traces.",
    )
    otel_service_name: str = Field(
        "novamem",
        validation_alias=AliasChoices("OTEL_SERVICE_NAME", "NOVAMEM_OTEL_SERVICE_NAME"),
        description="service.name of the exported traces.",
    )

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.require_external_database and self.database_url is None:
            raise ValueError(
                "NOVAMEM_DATABASE_URL is not set, and NOVAMEM_REQUIRE_EXTERNAL_DATABASE=1 forbids the embedded "
                "PostgreSQL; set NOVAMEM_DATABASE_URL=postgresql://user:password@host:5432/novamem (PostgreSQL "
                "with pgvector)"
            )
        database_password = urlsplit(self.database_url.get_secret_value()).password if self.database_url else None
        if database_password and _is_template_placeholder(database_password):
            raise ValueError(
                "NOVAMEM_DATABASE_URL holds a placeholder password; generate a random one "
                "(deploy/compose/make-secrets writes POSTGRES_PASSWORD)"
            )
        if self.graph_store is GraphStore.FALKORDB:
            self._check_falkordb_url()
        if self.auth_mode is AuthMode.NONE and not _is_loopback(self.host):
            raise ValueError(
                f"NOVAMEM_AUTH_MODE=none is only allowed on a loopback host, not {self.host!r}; "
                "use NOVAMEM_AUTH_MODE=bearer with NOVAMEM_AUTH_TOKEN, or bind NOVAMEM_HOST=127.0.0.1"
            )
        if self.auth_mode is AuthMode.BEARER:
            token = self.auth_token.get_secret_value() if self.auth_token else ""
            if len(token) < 16:
                raise ValueError("NOVAMEM_AUTH_MODE=bearer needs NOVAMEM_AUTH_TOKEN of at least 16 characters")
        try:
            self.trusted_proxy_networks  # noqa: B018 - parse now, so a typo stops the start
        except ValueError as exc:
            raise ValueError(f"NOVAMEM_TRUSTED_PROXIES: {exc}") from None
        if self.auth_mode.has_accounts:
            self._check_cookie_secret()
            password = self.bootstrap_admin_password.get_secret_value() if self.bootstrap_admin_password else None
            if password is not None and not 8 <= len(password) <= 256:
                raise ValueError("NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD must be 8 to 256 characters")
            if password is not None and not self.bootstrap_admin_email:
                raise ValueError("NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD needs NOVAMEM_BOOTSTRAP_ADMIN_EMAIL")
        if self.embeddings_provider is EmbeddingsProvider.OPENAI_COMPATIBLE and not (
            self.embeddings_endpoint and self.embeddings_model
        ):
            raise ValueError(
                "NOVAMEM_EMBEDDINGS_PROVIDER=openai-compatible needs NOVAMEM_EMBEDDINGS_ENDPOINT "
                "and NOVAMEM_EMBEDDINGS_MODEL"
            )
        if self.embeddings_provider is EmbeddingsProvider.OPENAI_COMPATIBLE and self.embeddings_endpoint:
            self._check_endpoint("NOVAMEM_EMBEDDINGS_ENDPOINT", self.embeddings_endpoint)
        self._check_vector_store()
        self._check_retrieval_stages()
        return self

    def _check_retrieval_stages(self) -> None:
        """Refuse an enabled reranker, decomposer or fact extractor without what it needs, and any unusable
        endpoint."""
        if self.rerank_enabled and not self.rerank_endpoint:
            raise ValueError("NOVAMEM_RERANK_ENABLED=1 needs NOVAMEM_RERANK_ENDPOINT (e.g. http://tei:8080/rerank)")
        if self.rerank_enabled and self.rerank_format is RerankFormat.COHERE and not self.rerank_model:
            raise ValueError("NOVAMEM_RERANK_FORMAT=cohere needs NOVAMEM_RERANK_MODEL")
        if self.rerank_endpoint:
            self._check_endpoint("NOVAMEM_RERANK_ENDPOINT", self.rerank_endpoint)
        if self.query_decomp_enabled and not (self.query_decomp_endpoint and self.query_decomp_model):
            raise ValueError(
                "NOVAMEM_QUERY_DECOMP_ENABLED=1 needs NOVAMEM_QUERY_DECOMP_ENDPOINT and NOVAMEM_QUERY_DECOMP_MODEL"
            )
        if self.query_decomp_endpoint:
            self._check_endpoint("NOVAMEM_QUERY_DECOMP_ENDPOINT", self.query_decomp_endpoint)
        if self.extraction_enabled and not (self.extraction_endpoint and self.extraction_model):
            raise ValueError(
                "NOVAMEM_EXTRACTION_ENABLED=1 needs NOVAMEM_EXTRACTION_ENDPOINT and NOVAMEM_EXTRACTION_MODEL"
            )
        if self.extraction_endpoint:
            self._check_endpoint("NOVAMEM_EXTRACTION_ENDPOINT", self.extraction_endpoint)
        if self.observer_enabled and not (self.observer_endpoint and self.observer_model):
            raise ValueError("NOVAMEM_OBSERVER_ENABLED=1 needs NOVAMEM_OBSERVER_ENDPOINT and NOVAMEM_OBSERVER_MODEL")
        if self.observer_endpoint:
            self._check_endpoint("NOVAMEM_OBSERVER_ENDPOINT", self.observer_endpoint)

    def _check_vector_store(self) -> None:
        """Refuse a Qdrant vector store without a usable NOVAMEM_QDRANT_URL."""
        if self.vector_store is not VectorStore.QDRANT:
            return
        url = (self.qdrant_url or "").strip()
        if not url:
            raise ValueError("NOVAMEM_VECTOR_STORE=qdrant needs NOVAMEM_QDRANT_URL (e.g. http://qdrant:6333)")
        if url.startswith(QDRANT_PATH_PREFIX):
            if not url.removeprefix(QDRANT_PATH_PREFIX).strip():
                raise ValueError("NOVAMEM_QDRANT_URL path: needs a directory (path:/var/lib/novamem/qdrant)")
            return
        try:
            self._check_endpoint("NOVAMEM_QDRANT_URL", url)
        except ValueError as exc:
            raise ValueError(f"{exc} (or path:<directory> for the embedded local mode)") from None

    def _check_endpoint(self, variable: str, url: str) -> None:
        """Refuse an endpoint that would carry memory content over plain HTTP to the internet."""
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ValueError(f"{variable} must be an http:// or https:// URL with a host")
        if self.allow_insecure_endpoints:
            return
        problem = endpoint_exposure(url)
        if problem is not None:
            raise ValueError(
                f"{variable} {problem}; use https://, a loopback or private address, or set "
                "NOVAMEM_ALLOW_INSECURE_ENDPOINTS=1 to accept sending data unencrypted"
            )

    def _check_falkordb_url(self) -> None:
        """NOVAMEM_GRAPH_STORE=falkordb needs a FalkorDB URL the client can use."""
        url = self.falkordb_url.get_secret_value().strip() if self.falkordb_url else ""
        if not url:
            raise ValueError("NOVAMEM_GRAPH_STORE=falkordb needs NOVAMEM_FALKORDB_URL (redis://host:6379)")
        parts = urlsplit(url)
        try:
            valid = parts.scheme in FALKORDB_URL_SCHEMES and bool(
                parts.path if parts.scheme == "unix" else parts.hostname
            )
            parts.port  # noqa: B018 - a port that is not a number raises here
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(
                "NOVAMEM_FALKORDB_URL must be a redis://, rediss://, falkor://, falkors:// or unix:// URL with a "
                "host (e.g. redis://falkordb:6379)"
            )

    def _check_cookie_secret(self) -> None:
        secret = self.cookie_secret.get_secret_value() if self.cookie_secret else None
        if secret is None:
            if self.database_url is not None:
                raise ValueError(
                    "NOVAMEM_COOKIE_SECRET is required with NOVAMEM_DATABASE_URL (every replica must share it); "
                    'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
                )
            return
        if len(secret) < MIN_COOKIE_SECRET:
            raise ValueError(
                f"NOVAMEM_COOKIE_SECRET must be at least {MIN_COOKIE_SECRET} characters; "
                'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        if is_placeholder_secret(secret):
            raise ValueError("NOVAMEM_COOKIE_SECRET is a placeholder value; generate a random one")

    @property
    def secure_cookies(self) -> bool:
        return not self.insecure_cookies

    @property
    def public_base_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def effective_backup_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    @property
    def otel_traces_url(self) -> str | None:
        if self.otel_exporter_otlp_traces_endpoint:
            return self.otel_exporter_otlp_traces_endpoint
        if self.otel_exporter_otlp_endpoint:
            return self.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return None

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip() and o.strip() != "self"]

    @property
    def trusted_origins(self) -> list[str]:
        """Origins whose cookie-bearing requests may change state (CSRF check)."""
        return list(dict.fromkeys([self.public_base_url, "http://localhost:5173", *self.cors_origin_list]))

    @property
    def effective_min_vector_score(self) -> float:
        """The noise floor in force: explicit setting, else a model-specific default."""
        if self.search_min_vector_score is not None:
            return self.search_min_vector_score
        if self.embeddings_provider is EmbeddingsProvider.BUILTIN:
            return DEFAULT_BUILTIN_MIN_VECTOR_SCORE
        return 0.0

    @property
    def effective_near_duplicate_cosine(self) -> float:
        """The capture near-duplicate threshold in force: explicit setting, else model-specific."""
        if self.capture_near_duplicate_cosine is not None:
            return self.capture_near_duplicate_cosine
        if self.embeddings_provider is EmbeddingsProvider.BUILTIN:
            return DEFAULT_BUILTIN_NEAR_DUPLICATE
        return DEFAULT_NEAR_DUPLICATE


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback address literal (no name is resolved)."""
    return _is_loopback(host)


# carrier-grade NAT space (VPN overlays such as Tailscale): not routable on the internet
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")


def _is_private_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED_ADDRESS_SPACE)
    )


def _host_addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address] | None:
    """The addresses `host` stands for (a literal, `localhost`, or every address DNS gives); None if unresolvable."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    if host.lower() == "localhost":
        return [ipaddress.ip_address("127.0.0.1")]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    found = []
    for info in infos:
        try:
            found.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except ValueError:
            continue
    return found or None


def endpoint_exposure(url: str) -> str | None:
    """Why `url` would carry data unencrypted to the internet, or None when it does not.

    https is always fine. Plain HTTP is fine only when the host is exclusively loopback or private: a
    name is resolved now, and a single public address among its answers makes it public. A name that
    does not resolve cannot be shown to be private, so it counts against the URL (fail closed).
    """
    parts = urlsplit(url)
    if parts.scheme == "https":
        return None
    host = parts.hostname or ""
    addresses = _host_addresses(host) if host else None
    if addresses is None:
        return f"uses plain HTTP and its host {host!r} does not resolve, so it cannot be shown to be private"
    public = [a for a in addresses if not _is_private_address(a)]
    if public:
        shown = host if host == str(public[0]) else f"{host}, which resolves to {public[0]}"
        return f"uses plain HTTP to a public host ({shown})"
    return None


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment, turning validation errors into one readable ConfigError."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p]
            var = "NOVAMEM_" + loc[0].upper() if loc else "configuration"
            msg = err.get("msg", "invalid value").removeprefix("Value error, ")
            given = err.get("input")
            secret = bool(loc) and any(w in loc[0] for w in ("token", "key", "url", "secret", "password"))
            shown = "" if not loc or secret or isinstance(given, dict) else f" (got {given!r})"
            if not loc:
                lines.append(msg)
            else:
                lines.append(f"{var}: {msg}{shown}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    _forget_bootstrap_password()
    return settings


def _forget_bootstrap_password() -> None:
    """Drop the bootstrap admin password from the process environment once it has been read, so child
    processes and crash dumps of the environment never see it."""
    for name in [n for n in os.environ if n.upper() == BOOTSTRAP_PASSWORD_VAR]:
        del os.environ[name]
