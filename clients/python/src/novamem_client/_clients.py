"""The public clients. Each operation is declared once, on an operations class shared by the sync and
the asyncio flavour (see `_binding.py`); the flavours differ only in their surface base class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from . import _admin as admin_ops
from . import _data_plane as data_ops
from . import _management as management_ops
from ._binding import AsyncSurface, SyncSurface, operation
from ._config import DEFAULT_TIMEOUT, ClientConfig, TokenSource

__all__ = ["Admin", "AsyncAdmin", "AsyncManagement", "AsyncNovamemClient", "Management", "NovamemClient"]

M = TypeVar("M", "Management", "AsyncManagement")
A = TypeVar("A", "Admin", "AsyncAdmin")


class _DataPlane:
    health = operation(data_ops.health)
    remember = operation(data_ops.remember)
    capture = operation(data_ops.capture)
    session_recap = operation(data_ops.session_recap)
    search = operation(data_ops.search)
    context = operation(data_ops.context)
    recent = operation(data_ops.recent)
    today = operation(data_ops.today)
    neighbors = operation(data_ops.neighbors)
    forget = operation(data_ops.forget)
    forget_by_source = operation(data_ops.forget_by_source)
    update_memory = operation(data_ops.update_memory)
    stats = operation(data_ops.stats)
    hygiene = operation(data_ops.hygiene)
    evaluate = operation(data_ops.evaluate)
    adoption = operation(data_ops.adoption)
    context_prefix = operation(data_ops.context_prefix)


class _ManagementOps:
    list_tokens = operation(management_ops.list_tokens)
    create_token = operation(management_ops.create_token)
    revoke_token = operation(management_ops.revoke_token)
    rotate_token = operation(management_ops.rotate_token)
    list_projects = operation(management_ops.list_projects)
    create_project = operation(management_ops.create_project)
    delete_project = operation(management_ops.delete_project)
    list_members = operation(management_ops.list_members)
    add_member = operation(management_ops.add_member)
    remove_member = operation(management_ops.remove_member)
    get_active_project = operation(management_ops.get_active_project)
    set_active_project = operation(management_ops.set_active_project)
    clear_active_project = operation(management_ops.clear_active_project)
    export = operation(management_ops.export)
    import_entries = operation(management_ops.import_entries)
    usage = operation(management_ops.usage)
    changes = operation(management_ops.changes)
    activity = operation(management_ops.activity)
    metrics = operation(management_ops.metrics)
    metrics_history = operation(management_ops.metrics_history)


class _AdminOps:
    list_users = operation(admin_ops.list_users)
    create_user = operation(admin_ops.create_user)
    delete_user = operation(admin_ops.delete_user)
    preview_user_deletion = operation(admin_ops.preview_user_deletion)
    set_quota = operation(admin_ops.set_quota)
    revoke_token = operation(admin_ops.revoke_token)
    create_service_key = operation(admin_ops.create_service_key)
    list_service_keys = operation(admin_ops.list_service_keys)
    revoke_service_key = operation(admin_ops.revoke_service_key)
    audit_log = operation(admin_ops.audit_log)
    metrics = operation(admin_ops.metrics)
    telemetry = operation(admin_ops.telemetry)
    deep_health = operation(admin_ops.deep_health)


class Management(_ManagementOps, SyncSurface):
    """Your own tokens, projects and data (`client.management`)."""


class Admin(_AdminOps, SyncSurface):
    """Administration of the deployment (`client.admin`; needs an admin's token)."""


class AsyncManagement(_ManagementOps, AsyncSurface):
    """Your own tokens, projects and data, to await (`client.management`)."""


class AsyncAdmin(_AdminOps, AsyncSurface):
    """Administration of the deployment, to await (`client.admin`; needs an admin's token)."""


class _Client(ABC, Generic[M, A]):
    """Construction shared by both clients: one configuration, three surfaces over it."""

    management: M
    admin: A

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        token_source: TokenSource | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._config = ClientConfig(base_url, token=token, token_source=token_source, timeout=timeout)
        self.management, self.admin = self._surfaces(self._config)

    @abstractmethod
    def _surfaces(self, config: ClientConfig) -> tuple[M, A]:
        """The management and admin surfaces of this flavour (sync or asyncio) over `config`."""

    @property
    def config(self) -> ClientConfig:
        """The connection settings (the credential stays hidden in their repr)."""
        return self._config


class NovamemClient(_Client[Management, Admin], _DataPlane, SyncSurface):
    """A blocking client of a novamem server: the data plane here, `management` and `admin` beside it.

    Authenticate with `token=` (an `nm_` API token) or `token_source=` (for example an `OBOTokenSource`).
    Every request waits at most `timeout` seconds (15 by default) and is never retried; failures raise
    the `NovamemError` tree, with "could not look" always `NovamemUnavailable`.
    """

    def _surfaces(self, config: ClientConfig) -> tuple[Management, Admin]:
        return Management(config), Admin(config)


class AsyncNovamemClient(_Client[AsyncManagement, AsyncAdmin], _DataPlane, AsyncSurface):
    """The asyncio twin of `NovamemClient`: the same operations, arguments and errors, each awaited.

    Each request runs the standard-library exchange in a worker thread, so the event loop never blocks.
    """

    def _surfaces(self, config: ClientConfig) -> tuple[AsyncManagement, AsyncAdmin]:
        return AsyncManagement(config), AsyncAdmin(config)
