"""Administration operations (`Admin` in the reference): users, quotas, leaked tokens, service keys for
on-behalf-of tokens, the audit log, metrics, telemetry and deep health. They need an admin's
unrestricted token; anyone else gets `NovamemForbidden` (or `NovamemUnauthorized`)."""

from __future__ import annotations

import base64

from ._account_models import (
    AdminUser,
    AuditEntry,
    DeepHealth,
    ErasePreview,
    MetricsSnapshot,
    ProvisionedUser,
    ServiceKey,
    Telemetry,
    UserErased,
    UserQuota,
)
from ._call import Call, field_of, path, result
from ._management import TokenScope
from ._wire import wire_body

__all__ = [
    "audit_log",
    "create_service_key",
    "create_user",
    "deep_health",
    "delete_user",
    "list_service_keys",
    "list_users",
    "metrics",
    "preview_user_deletion",
    "revoke_service_key",
    "revoke_token",
    "set_quota",
    "telemetry",
]


def list_users() -> Call[list[AdminUser]]:
    """Every user with their entry and live-token counts."""
    return Call("GET", "/v1/admin/users", field_of("users", list[AdminUser]))


def create_user(
    email: str,
    password: str,
    *,
    name: str | None = None,
    token_label: str | None = None,
    token_scope: TokenScope | None = None,
    token_expires_in_days: int | None = None,
) -> Call[ProvisionedUser]:
    """Create a user (who must change the password at first sign-in) with a first API token.
    `NovamemConflict` when the email is taken."""
    return Call("POST", "/v1/admin/users", result(ProvisionedUser), body=wire_body(**locals()))


def delete_user(user_id: str) -> Call[UserErased]:
    """Erase a user: owned projects with their memories, entries, tokens, memberships."""
    return Call("DELETE", path("/v1/admin/users/{}", user_id), result(UserErased))


def preview_user_deletion(user_id: str) -> Call[ErasePreview]:
    """What `delete_user` would delete (a dry run; nothing changes)."""
    route = path("/v1/admin/users/{}", user_id)
    return Call("DELETE", route, field_of("wouldDelete", ErasePreview), query={"dryRun": True})


def set_quota(user_id: str, *, max_entries: int | None, writes_per_minute: int | None) -> Call[UserQuota]:
    """Override a user's entry cap and writes per minute; None clears the override (server default)."""
    body = {"maxEntries": max_entries, "writesPerMinute": writes_per_minute}
    return Call("PUT", path("/v1/admin/users/{}/quota", user_id), result(UserQuota), body=body)


def revoke_token(token: str) -> Call[bool]:
    """Kill a leaked API token by its plaintext, whoever owns it; False when it was unknown."""
    return Call("POST", "/v1/admin/tokens/revoke", field_of("revoked", bool), body={"token": token})


def create_service_key(name: str, organization_id: str, public_key: bytes | str) -> Call[ServiceKey]:
    """Register a platform's Ed25519 public key (raw 32 bytes, or already base64url) for one organization;
    its `id` is the `kid` of the on-behalf-of tokens the platform signs."""
    if isinstance(public_key, bytes):
        public_key = base64.urlsafe_b64encode(public_key).rstrip(b"=").decode()
    body = wire_body(name=name, organization_id=organization_id, public_key=public_key)
    return Call("POST", "/v1/admin/service-keys", result(ServiceKey), body=body)


def list_service_keys() -> Call[list[ServiceKey]]:
    """Registered service keys, newest first, revoked ones included."""
    return Call("GET", "/v1/admin/service-keys", field_of("keys", list[ServiceKey]))


def revoke_service_key(key_id: str) -> Call[bool]:
    """Revoke a service key: its tokens stop working on the next request (`NovamemNotFound` the second time)."""
    return Call("DELETE", path("/v1/admin/service-keys/{}", key_id), field_of("revoked", bool))


def audit_log(*, limit: int | None = None) -> Call[list[AuditEntry]]:
    """Audited admin and project actions, newest first (`limit` 1-500, default 200)."""
    return Call("GET", "/v1/admin/audit-log", field_of("entries", list[AuditEntry]), query={"limit": limit})


def metrics() -> Call[MetricsSnapshot]:
    """Counters, gauges and per-second rates of the deployment."""
    return Call("GET", "/v1/admin/metrics", result(MetricsSnapshot))


def telemetry() -> Call[Telemetry]:
    """Aggregates over the store: totals, backlogs and top namespaces, projects and agents."""
    return Call("GET", "/v1/admin/telemetry", result(Telemetry))


def deep_health() -> Call[DeepHealth]:
    """Each dependency's state and the embedding backlog; `ok` false rather than an error when the server
    answers 503 with its report."""
    return Call("GET", "/v1/admin/health/deep", result(DeepHealth), tolerate=frozenset({503}))
