"""The one place that turns a caller's scope into SQL filters (tenant first, always).

Every query over memory rows composes its WHERE clause from these helpers, so tenant, user and
project isolation cannot be forgotten by a single query. Entry filters also match `organization_id`: an
on-behalf-of caller's organization, NULL for every ordinary caller. The composite user id of an OBO caller
(`org:<org>/<sub>`) already keeps its rows apart; the organization column is defence in depth, so an
ordinary user can never read, dedupe against, change or delete an organization's entry even if ids collided.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from psycopg import sql

from novamem.domain.scope import ReadScope, WriteTarget

__all__ = [
    "MEMBERSHIPS",
    "memberships",
    "owner_filter",
    "owner_key",
    "owner_keys",
    "read_filter",
    "target_filter",
    "tenant_filter",
    "visible_filter",
]


@cache
def memberships(alias: str = "e") -> sql.SQL:
    """Every namespace a row is a member of. Rows stored before migration 0012 keep an empty `namespaces`,
    which means their home namespace alone: backfilling the column would have rewritten every row and every
    index entry (HNSW included) of a large store at start-up. New rows always hold their home namespace.

    This very expression is a column of the GIN index `memory_entries_terms` (migrations 0024, 0026), so a
    membership test written with it (`&&`, `@>`) reads the index, and together with a full-text match one
    scan of it finds the rows of a namespace carrying a term.
    """
    a = sql.Identifier(alias)
    text = sql.SQL("(CASE WHEN cardinality({a}.namespaces) = 0 THEN ARRAY[{a}.namespace] ELSE {a}.namespaces END)")
    return sql.SQL(text.format(a=a).as_string(None))


MEMBERSHIPS = memberships("e")


def owner_key(alias: str = "e") -> str:
    """A row's owner as one key: `u:<user>` for a user's own memory, `p:<project>` for a project's.

    Entity postings are filed under it (migration 0025), and it leads the GIN index `memory_entries_terms`
    (migration 0026, as a one-element array). It is computed from the columns the read filter tests, so a row
    the filter admits always carries one of the scope's `owner_keys`.
    """
    return f"CASE WHEN {alias}.project_id IS NULL THEN 'u:' || {alias}.user_id ELSE 'p:' || {alias}.project_id END"


def owner_keys(scope: ReadScope) -> list[str]:
    """The owners whose memories the scope reads, as `owner_key` names them."""
    owners = [f"u:{scope.user_id}"] if scope.include_user_global else []
    return owners + [f"p:{project}" for project in scope.project_ids]


@cache
def _owner_clause(alias: str) -> sql.SQL:
    return sql.SQL(f"ARRAY[{owner_key(alias)}] && %(s_owners)s::text[]")


def owner_filter(scope: ReadScope, alias: str = "e") -> tuple[sql.SQL, dict[str, Any]]:
    """The read filter's ownership once more, in the form the GIN index `memory_entries_terms` serves (its
    first column): for statements that find a term's rows, so that only the scope's owners' rows are read.

    It adds nothing the read filter does not already require; it is kept out of the read filter itself,
    whose plain column tests the other indexes serve (and the planner would count the ownership twice).
    Matching owners in the index pays only for owners holding a small share of the table (see
    `MemoryRetrieval.keyword_hits`).
    """
    return _owner_clause(alias), {"s_owners": owner_keys(scope)}


def _organization(alias: sql.Identifier, param: str | None) -> sql.Composed:
    """The organization match: the OBO caller's organization (parameter `param`), or NULL for everyone else."""
    if param is None:
        return sql.SQL("{a}.organization_id IS NULL").format(a=alias)
    return sql.SQL("{a}.organization_id = %({p})s").format(a=alias, p=sql.SQL(param))


@cache
def _read_clause(
    alias: str,
    *,
    user_global: bool,
    projects: bool,
    organization: bool | None,
    namespaces: bool,
    agent: bool | None,
    members_indexed: bool = True,
) -> sql.SQL:
    """The read filter's text for one shape of scope (values are parameters), composed once per shape.

    `organization`: None leaves the column out, else whether the caller has one; `agent`: None filters no
    agent, else whether an agent name is matched (False: rows without one); `members_indexed`: see
    `read_filter`.
    """
    a = sql.Identifier(alias)
    owners: list[sql.Composable] = []
    if user_global:
        owners.append(sql.SQL("({a}.project_id IS NULL AND {a}.user_id = %(s_user)s)").format(a=a))
    if projects:
        owners.append(sql.SQL("{a}.project_id = ANY(%(s_projects)s)").format(a=a))
    ownership = sql.SQL(" OR ").join(owners) if owners else sql.SQL("false")
    parts: list[sql.Composable] = [
        sql.SQL("{a}.tenant_id = %(s_tenant)s").format(a=a),
        sql.SQL("({o})").format(o=ownership),
    ]
    if organization is not None:
        parts.append(_organization(a, "s_org" if organization else None))
    if namespaces:
        # an entry is a member of its home namespace and of every namespace it was stored under since
        if members_indexed:
            parts.append(sql.SQL("{m} && %(s_namespaces)s::text[]").format(m=memberships(alias)))
        else:
            parts.append(
                sql.SQL("({a}.namespace = ANY(%(s_namespaces)s) OR {a}.namespaces && %(s_namespaces)s::text[])").format(
                    a=a
                )
            )
    if agent is not None:
        parts.append(sql.SQL("{a}.agent_name = %(s_agent)s" if agent else "{a}.agent_name IS NULL").format(a=a))
    return sql.SQL(sql.SQL(" AND ").join(parts).as_string(None))


def read_filter(
    scope: ReadScope,
    alias: str = "e",
    *,
    with_namespaces: bool = True,
    with_organization: bool = True,
    members_indexed: bool = True,
) -> tuple[sql.SQL, dict[str, Any]]:
    """Rows the scope may read: its tenant, its organization, then user-global rows of its user and/or its
    projects.

    Namespaces are tested in one of two equivalent forms. For statements that find the scope's rows
    (`members_indexed`, the default) the test is the memberships expression, which the GIN index serves.
    Statements that reach rows some other way (by id, along the HNSW graph) test each row they read, and
    for them the home namespace comes first (`namespace = ANY(...) OR namespaces && ...`): most rows are
    settled by one comparison, while the expression builds and compares arrays for every row (at 100,000
    memories the graph stage's statement in a namespace of 10,000 took 3.95 ms with it, 2.51 without).

    `with_organization=False` is for tables without the organization column (the change feed), whose rows
    the composite user id alone tells apart. The clause's text depends only on which parts the scope
    has, never on their values, so statements built around it can be kept per text (`StatementCache`).
    """
    params: dict[str, Any] = {"s_tenant": scope.tenant_id, "s_user": scope.user_id}
    if scope.project_ids:
        params["s_projects"] = list(scope.project_ids)
    if with_organization and scope.organization_id is not None:
        params["s_org"] = scope.organization_id
    namespaces = with_namespaces and scope.namespaces is not None
    if namespaces:
        assert scope.namespaces is not None
        params["s_namespaces"] = list(scope.namespaces)
    if scope.agent_filter_set and scope.agent_filter is not None:
        params["s_agent"] = scope.agent_filter
    clause = _read_clause(
        alias,
        user_global=scope.include_user_global,
        projects=bool(scope.project_ids),
        organization=(scope.organization_id is not None) if with_organization else None,
        namespaces=namespaces,
        agent=(scope.agent_filter is not None) if scope.agent_filter_set else None,
        members_indexed=members_indexed,
    )
    return clause, params


@cache
def _visible_clause(alias: str) -> sql.SQL:
    a = sql.Identifier(alias)
    clause = sql.SQL(
        "{a}.status = 'active' AND ({a}.expires_at IS NULL OR {a}.expires_at > now())"
        " AND {a}.sensitivity <= %(s_sensitivity)s"
    ).format(a=a)
    return sql.SQL(clause.as_string(None))


def visible_filter(scope: ReadScope, alias: str = "e") -> tuple[sql.SQL, dict[str, Any]]:
    """Active, unexpired rows at or below the scope's sensitivity ceiling."""
    return _visible_clause(alias), {"s_sensitivity": scope.max_sensitivity}


def target_filter(target: WriteTarget, alias: str = "e") -> tuple[sql.Composed, dict[str, Any]]:
    """Rows in exactly the write target's partition (one tenant, one organization or none, one project or
    one user's globals)."""
    a = sql.Identifier(alias)
    clause = sql.SQL("{a}.tenant_id = %(w_tenant)s AND {a}.scope_key = %(w_scope)s AND {o}").format(
        a=a, o=_organization(a, None if target.organization_id is None else "w_org")
    )
    params: dict[str, Any] = {"w_tenant": target.tenant_id, "w_scope": target.scope_key}
    if target.organization_id is not None:
        params["w_org"] = target.organization_id
    return clause, params


def tenant_filter(tenant_id: str, alias: str = "e") -> tuple[sql.Composed, dict[str, Any]]:
    """Every row of one tenant, whoever owns it (tenant-wide aggregates for that tenant's admins)."""
    a = sql.Identifier(alias)
    return sql.SQL("{a}.tenant_id = %(t_tenant)s").format(a=a), {"t_tenant": tenant_id}
