"""The sidebar: every screen of the URL plan, grouped, filtered by who is looking."""

from __future__ import annotations

from dataclasses import dataclass

from novamem.domain.scope import Caller

__all__ = ["NAV", "NavGroup", "NavItem", "NavLink", "sidebar"]


@dataclass(frozen=True, slots=True)
class NavItem:
    """One screen in the sidebar."""

    label: str
    href: str
    group: str
    admin: bool = False  # shown to admins only
    tenants: bool = False  # shown to server admins in tenant mode only


NAV: tuple[NavItem, ...] = (
    NavItem("Home", "/admin/", "Memory"),
    NavItem("Memories", "/admin/memories", "Memory"),
    NavItem("Remember", "/admin/memories/new", "Memory"),
    NavItem("Today", "/admin/today", "Memory"),
    NavItem("Changes", "/admin/changes", "Memory"),
    NavItem("Graph", "/admin/graph", "Memory"),
    NavItem("Projects", "/admin/projects", "Sharing"),
    NavItem("API tokens", "/admin/tokens", "Agents"),
    NavItem("Connect an agent", "/admin/connect", "Agents"),
    NavItem("Users", "/admin/users", "Administration", admin=True),
    NavItem("Health", "/admin/health", "Administration", admin=True),
    NavItem("Metrics", "/admin/metrics", "Administration", admin=True),
    NavItem("Audit log", "/admin/audit", "Administration", admin=True),
    NavItem("Tenants", "/admin/tenants", "Administration", admin=True, tenants=True),
    NavItem("Account", "/admin/account", "You"),
)


@dataclass(frozen=True, slots=True)
class NavLink:
    """A sidebar link as rendered: `current` marks the screen being shown (`aria-current="page"`)."""

    label: str
    href: str
    current: bool


@dataclass(frozen=True, slots=True)
class NavGroup:
    """A titled group of links."""

    title: str
    links: tuple[NavLink, ...]


def _visible(item: NavItem, caller: Caller) -> bool:
    if item.tenants:
        return caller.is_server_admin
    return caller.is_admin or not item.admin


def _current(items: list[NavItem], path: str) -> str | None:
    """The href of the screen `path` belongs to: an exact match, else the longest href it lies under."""
    if path in ("/admin", "/admin/index.html"):
        path = "/admin/"
    best: str | None = None
    for item in items:
        href = item.href
        if path == href:
            return href
        if href != "/admin/" and path.startswith(href + "/") and (best is None or len(href) > len(best)):
            best = href
    return best


def sidebar(caller: Caller, path: str) -> tuple[NavGroup, ...]:
    """The groups and links this caller sees, with the current screen marked."""
    items = [item for item in NAV if _visible(item, caller)]
    current = _current(items, path)
    groups: dict[str, list[NavLink]] = {}
    for item in items:
        groups.setdefault(item.group, []).append(NavLink(item.label, item.href, item.href == current))
    return tuple(NavGroup(title, tuple(links)) for title, links in groups.items())
