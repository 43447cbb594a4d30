"""The one place that turns a caller's read scope into a Qdrant payload filter.

It mirrors `storage/postgres/scoping.py` (`read_filter` + `visible_filter`) rule for rule: the tenant
always; the organization (the OBO caller's, or none); user-global entries of the user and/or the listed
projects; the namespaces; the agent filter; active, unexpired entries at or below the sensitivity
ceiling. Every Qdrant search carries this filter, so entries of another tenant, user or project are never
candidates even before PostgreSQL re-checks the rows.
"""

from __future__ import annotations

from datetime import datetime

from qdrant_client.http import models as qm

from novamem.domain.scope import ReadScope

__all__ = ["PAYLOAD_INDEXES", "scope_filter"]

# payload fields the filter reads, and their index types (created with the collection)
PAYLOAD_INDEXES: dict[str, qm.PayloadSchemaType] = {
    "tenant_id": qm.PayloadSchemaType.KEYWORD,
    "user_id": qm.PayloadSchemaType.KEYWORD,
    "project_id": qm.PayloadSchemaType.KEYWORD,
    "scope_key": qm.PayloadSchemaType.KEYWORD,
    "namespace": qm.PayloadSchemaType.KEYWORD,
    "organization_id": qm.PayloadSchemaType.KEYWORD,
    "agent_name": qm.PayloadSchemaType.KEYWORD,
    "status": qm.PayloadSchemaType.KEYWORD,
    "sensitivity": qm.PayloadSchemaType.INTEGER,
    "expires_at": qm.PayloadSchemaType.FLOAT,
}


def _eq(key: str, value: str) -> qm.FieldCondition:
    return qm.FieldCondition(key=key, match=qm.MatchValue(value=value))


def _empty(key: str) -> qm.IsEmptyCondition:
    """The field is absent or null (how a NULL column is stored)."""
    return qm.IsEmptyCondition(is_empty=qm.PayloadField(key=key))


def scope_filter(scope: ReadScope, now: datetime) -> qm.Filter | None:
    """The payload filter of everything `scope` may read at `now`; None when it may read nothing."""
    owners: list[qm.Condition] = []
    if scope.include_user_global:
        owners.append(qm.Filter(must=[_empty("project_id"), _eq("user_id", scope.user_id)]))
    if scope.project_ids:
        owners.append(qm.FieldCondition(key="project_id", match=qm.MatchAny(any=list(scope.project_ids))))
    if not owners:
        return None
    must: list[qm.Condition] = [
        _eq("tenant_id", scope.tenant_id),
        qm.Filter(should=owners),
        _empty("organization_id") if scope.organization_id is None else _eq("organization_id", scope.organization_id),
        _eq("status", "active"),
        qm.FieldCondition(key="sensitivity", range=qm.Range(lte=scope.max_sensitivity)),
        qm.Filter(
            should=[_empty("expires_at"), qm.FieldCondition(key="expires_at", range=qm.Range(gt=now.timestamp()))]
        ),
    ]
    if scope.namespaces is not None:
        if not scope.namespaces:
            return None
        must.append(qm.FieldCondition(key="namespace", match=qm.MatchAny(any=list(scope.namespaces))))
    if scope.agent_filter_set:
        must.append(_empty("agent_name") if scope.agent_filter is None else _eq("agent_name", scope.agent_filter))
    return qm.Filter(must=must)
