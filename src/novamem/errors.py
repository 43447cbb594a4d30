"""The one exception tree of novamem.

```
NovamemError                 root; never raised directly
├── InvalidInput             the request is malformed (carries `issues`)
├── NotFound                 the thing asked for does not exist in the caller's scope
├── Conflict                 the change collides with stored state
├── Unauthenticated          no or wrong credentials
├── Forbidden                credentials are valid but do not allow this
├── RateLimited              too many requests (carries `retry_after`)
├── PayloadTooLarge          the request body exceeds the limit
├── Unavailable              a dependency (database, embedder) cannot answer now
└── ConfigError              the configuration is unusable; start-up stops
```

Services and domain code raise these and know no status codes; each edge (HTTP, CLI) owns the
mapping from class to its own representation. `message` is the contract's exact string (clients match on
it); an optional `detail` carries extra help that never goes into the message.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Conflict",
    "ConfigError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "NovamemError",
    "PayloadTooLarge",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
]


class NovamemError(Exception):
    """Root of every error novamem raises on purpose."""

    def __init__(self, message: str, *, code: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail


class InvalidInput(NovamemError):
    """The request is malformed; `issues` lists what is wrong, field by field."""

    def __init__(
        self,
        message: str = "invalid request body",
        *,
        issues: list[dict[str, Any]] | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, code=code, detail=detail)
        self.issues = issues


class NotFound(NovamemError):
    """The thing asked for does not exist in the caller's scope."""


class Conflict(NovamemError):
    """The change collides with stored state."""


class Unauthenticated(NovamemError):
    """No credentials, or credentials that are not valid."""


class Forbidden(NovamemError):
    """Valid credentials that do not allow this operation."""


class RateLimited(NovamemError):
    """Too many requests; `retry_after` says how many seconds to wait."""

    def __init__(self, message: str, *, retry_after: int = 60, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PayloadTooLarge(NovamemError):
    """The request body is larger than the server accepts."""


class Unavailable(NovamemError):
    """A dependency (the database, the embedder) cannot answer right now."""


class ConfigError(NovamemError):
    """The configuration cannot be used; the server refuses to start."""
