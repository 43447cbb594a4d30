"""Statements kept per shape: the scope filter's text names which filters a scope has and nothing of their
values, so a statement cached by that text can never carry one caller's filter to another shape."""

from __future__ import annotations

from dataclasses import replace

import pytest
from psycopg import sql

from novamem.domain.scope import ReadScope
from novamem.storage.postgres.scoping import read_filter, visible_filter
from novamem.storage.postgres.statements import StatementCache

BASE = ReadScope(tenant_id="acme", user_id="alice")
# every way a read scope can differ in shape from BASE
SHAPES = {
    "no user-global rows": replace(BASE, include_user_global=False),
    "projects": replace(BASE, project_ids=("p1",)),
    "namespaces": replace(BASE, namespaces=("work",)),
    "an agent": replace(BASE, agent_filter="cursor", agent_filter_set=True),
    "rows without an agent": replace(BASE, agent_filter=None, agent_filter_set=True),
    "an organization": replace(BASE, organization_id="org-1"),
}
VALUES = replace(
    BASE,
    tenant_id="tenant-zeta",
    user_id="user-omega",
    project_ids=("project-kappa",),
    namespaces=("ns-sigma",),
    agent_filter="agent-rho",
    agent_filter_set=True,
    organization_id="org-tau",
    max_sensitivity=0,
)


def text(scope: ReadScope, **kwargs: bool) -> str:
    return read_filter(scope, **kwargs)[0].as_string()


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_difference_of_shape_changes_the_filter_text(name: str) -> None:
    assert text(SHAPES[name]) != text(BASE)
    others = {text(s) for n, s in SHAPES.items() if n != name}
    assert text(SHAPES[name]) not in others


def test_values_travel_as_parameters_never_in_the_text() -> None:
    where, params = read_filter(VALUES)
    vis, vparams = visible_filter(VALUES)
    rendered = where.as_string() + vis.as_string()
    for value in ("tenant-zeta", "user-omega", "project-kappa", "ns-sigma", "agent-rho", "org-tau"):
        assert value not in rendered
        assert value in repr(params)
    assert vparams == {"s_sensitivity": 0}


def test_scopes_of_one_shape_share_the_text_and_keep_their_own_values() -> None:
    other = replace(VALUES, tenant_id="t2", user_id="u2", project_ids=("p2", "p3"), organization_id="o2")
    (w1, p1), (w2, p2) = read_filter(VALUES), read_filter(other)
    assert w1.as_string() == w2.as_string()
    assert p1["s_tenant"] == "tenant-zeta" and p2["s_tenant"] == "t2"
    assert p2["s_projects"] == ["p2", "p3"]


def test_the_filter_options_change_the_text() -> None:
    scope = SHAPES["namespaces"]
    assert "namespace" not in text(scope, with_namespaces=False)
    assert "organization_id" not in text(scope, with_organization=False)
    assert read_filter(scope, "b")[0].as_string().startswith('"b".tenant_id')


def test_a_statement_is_composed_once_per_key() -> None:
    cache = StatementCache()
    built: list[str] = []

    def build(name: str) -> sql.Composable:
        built.append(name)
        return sql.SQL("SELECT {} FROM t WHERE id = %(id)s").format(sql.Identifier(name))

    first = cache.get(("a",), lambda: build("a"))
    again = cache.get(("a",), lambda: build("a"))
    other = cache.get(("b",), lambda: build("b"))
    assert first is again and first == b'SELECT "a" FROM t WHERE id = %(id)s'
    assert other == b'SELECT "b" FROM t WHERE id = %(id)s'
    assert built == ["a", "b"]


def test_the_cache_stays_bounded() -> None:
    cache = StatementCache(max_entries=3)
    for n in range(10):
        cache.get(n, lambda: sql.SQL("SELECT 1"))
        assert len(cache) <= 3
