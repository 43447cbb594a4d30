"""`Management` and `Admin` against a real user-mode server: an admin provisions users with the SDK, and
those users manage their tokens, projects and data with it; every step goes over HTTP."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from novamem_client import (
    ActiveProject,
    AdminUser,
    DeepHealth,
    MintedToken,
    NovamemClient,
    NovamemConflict,
    NovamemForbidden,
    NovamemNotFound,
    NovamemUnauthorized,
    Project,
    ProvisionedUser,
)

from tests.conftest import RunningServer

from .conftest import Accounts

PASSWORD = "sdk-user-password-4711"


@pytest.fixture
def admin(sdk_server: RunningServer, accounts: Accounts) -> NovamemClient:
    return NovamemClient(sdk_server.base_url, token=accounts.admin)


def _provision(admin: NovamemClient, name: str) -> ProvisionedUser:
    created = admin.admin.create_user(f"{name}-{secrets.token_hex(3)}@example.com", PASSWORD, name=name)
    assert created.token is not None and created.token not in repr(created)
    return created


def test_tokens_mint_list_rotate_and_revoke(sdk_server: RunningServer, admin: NovamemClient) -> None:
    owner = NovamemClient(sdk_server.base_url, token=_provision(admin, "tokens").token)
    minted = owner.management.create_token(label="ci", scope="read_only", expires_in_days=3)
    assert isinstance(minted, MintedToken) and minted.scope == "read_only" and minted.expires_at
    assert minted.token not in repr(minted)
    listed = {t.label: t for t in owner.management.list_tokens()}
    assert listed["ci"].scope == "read_only" and not listed["ci"].revoked

    reader = NovamemClient(sdk_server.base_url, token=minted.token)
    rotated = reader.management.rotate_token()
    assert rotated.token != minted.token and rotated.token not in repr(rotated)
    with pytest.raises(NovamemUnauthorized):
        reader.stats()  # the presented token died with the rotation
    assert NovamemClient(sdk_server.base_url, token=rotated.token).stats().total_warm == 0

    live = [t for t in owner.management.list_tokens() if t.scope == "read_only" and not t.revoked]
    assert owner.management.revoke_token(live[0].token_hash) is True
    with pytest.raises(NovamemUnauthorized):
        NovamemClient(sdk_server.base_url, token=rotated.token).stats()
    with pytest.raises(NovamemNotFound, match="token not found"):
        owner.management.revoke_token("0" * 64)


def test_projects_members_and_the_active_project(sdk_server: RunningServer, admin: NovamemClient) -> None:
    owner_user, member_user = _provision(admin, "owner"), _provision(admin, "member")
    owner = NovamemClient(sdk_server.base_url, token=owner_user.token).management
    member = NovamemClient(sdk_server.base_url, token=member_user.token).management
    name = f"sdk-{secrets.token_hex(3)}"
    project = owner.create_project(name)
    assert isinstance(project, Project) and project.role == "owner" and project.name == name
    assert [p.id for p in owner.list_projects()] == [project.id]

    added = owner.add_member(project.id, member_user.email)
    assert added.added and added.user_id == member_user.user_id
    with pytest.raises(NovamemConflict, match="user is already a member"):
        owner.add_member(project.id, member_user.email)
    assert {m.role for m in member.list_members(name)} == {"owner", "member"}
    with pytest.raises(NovamemForbidden, match="only the owner can delete a project"):
        member.delete_project(project.id)

    assert member.set_active_project(name) == ActiveProject(id=project.id)
    assert member.get_active_project() == ActiveProject(id=project.id, name=name)
    assert member.clear_active_project() is None
    assert member.get_active_project() is None

    assert owner.remove_member(project.id, member_user.user_id) is True
    with pytest.raises(NovamemForbidden):
        member.list_members(project.id)
    deleted = owner.delete_project(project.id)
    assert deleted.deleted and deleted.entries_removed == 0
    with pytest.raises(NovamemNotFound):
        owner.delete_project(project.id)


def test_import_export_usage_changes_and_activity(sdk_server: RunningServer, admin: NovamemClient) -> None:
    client = NovamemClient(sdk_server.base_url, token=_provision(admin, "data").token)
    me = client.management
    entries: list[dict[str, Any]] = [
        {"content": "The imported fact about the red deploy pipeline", "namespace": "imported"},
        {"content": "The imported fact about the blue deploy pipeline", "source_type": "note", "confidence": 0.9},
    ]
    outcome = me.import_entries(entries)
    assert (outcome.imported, outcome.deduplicated, outcome.failed) == (2, 0, [])
    assert me.import_entries(entries).deduplicated == 2  # idempotent
    refused = me.import_entries([{"content": "A fact for a project nobody has", "project": "no-such-project"}])
    assert refused.imported == 0 and refused.failed[0].index == 0 and refused.failed[0].error

    first = me.export(limit=1)
    assert len(first.entries) == 1 and first.next_after_id == first.entries[0].id
    rest = me.export(after_id=first.next_after_id)
    assert {e.content for e in first.entries + rest.entries} == {e["content"] for e in entries}
    assert next(e for e in rest.entries + first.entries if e.source_type == "note").confidence == 0.9

    usage = me.usage()
    assert usage.entries == 2 and usage.quota.max_entries is None
    page = me.changes(limit=10)
    assert {c.change for c in page.changes} == {"created"} and page.next_seq is not None
    assert me.changes(after_seq=page.next_seq).changes == []
    assert isinstance(me.activity(), list)
    mine = me.metrics()
    assert "queries_total" in mine.counters and [t.credential for t in mine.tokens] == ["token"]
    assert me.metrics_history(hours=1).hours == 1


def test_admin_operations(sdk_server: RunningServer, admin: NovamemClient, accounts: Accounts) -> None:
    created = _provision(admin, "managed")
    managed = NovamemClient(sdk_server.base_url, token=created.token)
    managed.remember("The managed user keeps their notes in the shared drive folder")
    users = {u.id: u for u in admin.admin.list_users()}
    assert isinstance(users[created.user_id], AdminUser) and users[created.user_id].entry_count == 1
    with pytest.raises(NovamemConflict):
        admin.admin.create_user(created.email, PASSWORD)

    quota = admin.admin.set_quota(created.user_id, max_entries=100, writes_per_minute=None)
    assert quota.user_id == created.user_id and quota.quota.max_entries == 100
    assert managed.management.usage().quota.max_entries == 100
    admin.admin.set_quota(created.user_id, max_entries=None, writes_per_minute=None)

    actions = {e.action for e in admin.admin.audit_log(limit=50)}
    assert {"admin.user.create", "admin.user.quota"} <= actions
    assert admin.admin.metrics().counters["remembers_total"] >= 1
    assert admin.admin.telemetry().total_entries >= 1
    health = admin.admin.deep_health()
    assert isinstance(health, DeepHealth) and health.deps["warm"] == "ok"

    spare = managed.management.create_token(label="leaked")
    assert admin.admin.revoke_token(spare.token) is True
    assert admin.admin.revoke_token(spare.token) is False
    with pytest.raises(NovamemUnauthorized):
        NovamemClient(sdk_server.base_url, token=spare.token).stats()

    preview = admin.admin.preview_user_deletion(created.user_id)
    assert (preview.user_id, preview.entries) == (created.user_id, 1)
    erased = admin.admin.delete_user(created.user_id)
    assert erased.deleted and erased.entries_removed == 1
    with pytest.raises(NovamemNotFound):
        admin.admin.delete_user(created.user_id)

    plain = NovamemClient(sdk_server.base_url, token=accounts.user)
    for call in (plain.admin.metrics, plain.admin.list_users, plain.admin.list_service_keys):
        with pytest.raises(NovamemForbidden):
            call()
