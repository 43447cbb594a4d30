"""The client's one exception tree.

```
NovamemError                  every failure of a request (never a misuse: that is ValueError/TypeError)
├── NovamemUnavailable        could not reach or read the store: refused, timeout, 5xx, 429, non-JSON,
│                             degraded with no results (retryable)
├── NovamemBadRequest         400: the request was refused as invalid (`issues` from the server)
├── NovamemAuthError          the credential was refused
│   ├── NovamemUnauthorized   401: missing, unknown, expired or revoked credential
│   └── NovamemForbidden      403: the credential may not do this
├── NovamemNotFound           404
├── NovamemConflict           409
└── NovamemRequestError       any other 4xx (413 too large, 414, 431, ...)
```

"Nothing found" is an empty result, never an exception; "could not look" is always `NovamemUnavailable`.
Only `NovamemUnavailable` is `retryable`, and the client itself never retries. Messages carry the server's
`error` string and never the credential.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "NovamemAuthError",
    "NovamemBadRequest",
    "NovamemConflict",
    "NovamemError",
    "NovamemForbidden",
    "NovamemNotFound",
    "NovamemRequestError",
    "NovamemUnauthorized",
    "NovamemUnavailable",
]


class NovamemError(Exception):
    """A request to novamem failed; `error` is the server's message, `status` the HTTP status if any."""

    retryable: bool = False

    def __init__(
        self,
        error: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.error = error
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method and path else ""
        super().__init__(f"{where}{status} {error}" if status is not None else f"{where}{error}")


class NovamemUnavailable(NovamemError):
    """The store could not be reached or read; the answer says nothing about what is stored."""

    retryable = True

    def __init__(self, error: str, *, retry_after: float | None = None, **context: Any) -> None:
        super().__init__(error, **context)
        self.retry_after = retry_after


class NovamemBadRequest(NovamemError):
    """400: the server refused the request as invalid; `issues` lists the offending fields."""

    def __init__(self, error: str, *, issues: list[dict[str, Any]] | None = None, **context: Any) -> None:
        super().__init__(error, **context)
        self.issues = issues or []


class NovamemAuthError(NovamemError):
    """The credential was refused (401 or 403)."""


class NovamemUnauthorized(NovamemAuthError):
    """401: the credential is missing, unknown, expired or revoked."""


class NovamemForbidden(NovamemAuthError):
    """403: the credential is valid but may not do this (admin only, read-only, restricted, ...)."""


class NovamemNotFound(NovamemError):
    """404: no such thing in the caller's scope (or the route does not exist on this server)."""


class NovamemConflict(NovamemError):
    """409: the request conflicts with what is stored (an existing user or member, ...)."""


class NovamemRequestError(NovamemError):
    """Any other 4xx answer (body too large, path too long, ...)."""
