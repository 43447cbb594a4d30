"""The one place that turns a caller's scope into SQL filters (tenant first, always).

Every query over memory rows composes its WHERE clause from these helpers, so tenant, user and
project isolation cannot be forgotten by a single query. Entry filters also match `organization_id`: an
on-behalf-of caller's organization, NULL for every ordinary caller. The composite user id of an OBO caller
(`org:<org>/<sub>`) already keeps its rows apart; the organization column is defence in depth, so an
ordinary user can never read, dedupe against, change or delete an organization's entry even if ids collided.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from novamem.domain.scope import ReadScope, WriteTarget

__all__ = ["MEMBERSHIPS", "read_filter", "target_filter", "tenant_filter", "visible_filter"]

# Every namespace a row `e` is a member of. Rows stored before migration 0012 keep an empty `namespaces`,
# which means their home namespace alone: backfilling the column would have rewritten every row and every
# index entry (HNSW included) of a large store at start-up. New rows always hold their home namespace.
MEMBERSHIPS = sql.SQL("(CASE WHEN cardinality(e.namespaces) = 0 THEN ARRAY[e.namespace] ELSE e.namespaces END)")


def _organization(alias: sql.Identifier, organization_id: str | None, param: str) -> sql.Composed:
    """The organization match: the OBO caller's organization, or NULL for everyone else."""
    if organization_id is None:
        return sql.SQL("{a}.organization_id IS NULL").format(a=alias)
    return sql.SQL("{a}.organization_id = %({p})s").format(a=alias, p=sql.SQL(param))


def read_filter(
    scope: ReadScope, alias: str = "e", *, with_namespaces: bool = True, with_organization: bool = True
) -> tuple[sql.Composed, dict[str, Any]]:
    """Rows the scope may read: its tenant, its organization, then user-global rows of its user and/or its
    projects.

    `with_organization=False` is for tables without the organization column (the change feed), whose rows
    the composite user id alone tells apart.
    """
    a = sql.Identifier(alias)
    params: dict[str, Any] = {"s_tenant": scope.tenant_id, "s_user": scope.user_id}
    owners: list[sql.Composable] = []
    if scope.include_user_global:
        owners.append(sql.SQL("({a}.project_id IS NULL AND {a}.user_id = %(s_user)s)").format(a=a))
    if scope.project_ids:
        owners.append(sql.SQL("{a}.project_id = ANY(%(s_projects)s)").format(a=a))
        params["s_projects"] = list(scope.project_ids)
    ownership = sql.SQL(" OR ").join(owners) if owners else sql.SQL("false")
    parts: list[sql.Composable] = [
        sql.SQL("{a}.tenant_id = %(s_tenant)s").format(a=a),
        sql.SQL("({o})").format(o=ownership),
    ]
    if with_organization:
        parts.append(_organization(a, scope.organization_id, "s_org"))
        if scope.organization_id is not None:
            params["s_org"] = scope.organization_id
    if with_namespaces and scope.namespaces is not None:
        # an entry is a member of its home namespace and of every namespace it was stored under since
        # (`namespaces`, GIN-indexed; empty on rows older than memberships, see MEMBERSHIPS)
        parts.append(
            sql.SQL("({a}.namespace = ANY(%(s_namespaces)s) OR {a}.namespaces && %(s_namespaces)s::text[])").format(a=a)
        )
        params["s_namespaces"] = list(scope.namespaces)
    if scope.agent_filter_set:
        if scope.agent_filter is None:
            parts.append(sql.SQL("{a}.agent_name IS NULL").format(a=a))
        else:
            parts.append(sql.SQL("{a}.agent_name = %(s_agent)s").format(a=a))
            params["s_agent"] = scope.agent_filter
    return sql.SQL(" AND ").join(parts), params


def visible_filter(scope: ReadScope, alias: str = "e") -> tuple[sql.Composed, dict[str, Any]]:
    """Active, unexpired rows at or below the scope's sensitivity ceiling."""
    a = sql.Identifier(alias)
    clause = sql.SQL(
        "{a}.status = 'active' AND ({a}.expires_at IS NULL OR {a}.expires_at > now())"
        " AND {a}.sensitivity <= %(s_sensitivity)s"
    ).format(a=a)
    return clause, {"s_sensitivity": scope.max_sensitivity}


def target_filter(target: WriteTarget, alias: str = "e") -> tuple[sql.Composed, dict[str, Any]]:
    """Rows in exactly the write target's partition (one tenant, one organization or none, one project or
    one user's globals)."""
    a = sql.Identifier(alias)
    clause = sql.SQL("{a}.tenant_id = %(w_tenant)s AND {a}.scope_key = %(w_scope)s AND {o}").format(
        a=a, o=_organization(a, target.organization_id, "w_org")
    )
    params: dict[str, Any] = {"w_tenant": target.tenant_id, "w_scope": target.scope_key}
    if target.organization_id is not None:
        params["w_org"] = target.organization_id
    return clause, params


def tenant_filter(tenant_id: str, alias: str = "e") -> tuple[sql.Composed, dict[str, Any]]:
    """Every row of one tenant, whoever owns it (tenant-wide aggregates for that tenant's admins)."""
    a = sql.Identifier(alias)
    return sql.SQL("{a}.tenant_id = %(t_tenant)s").format(a=a), {"t_tenant": tenant_id}
