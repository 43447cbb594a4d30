"""UserMetricsService without a database: classification, in-process counting, the flush's keep-back."""

from __future__ import annotations

from datetime import datetime

import pytest

from novamem.domain.scope import Caller, Credential, TokenScope
from novamem.errors import InvalidInput, Unavailable
from novamem.services.operations.metrics import MetricsService
from novamem.services.operations.user_metrics import RequestKind, UserMetricsService, classify_request
from novamem.services.operations.user_metrics_models import AdminUserMetrics, UserMetrics
from novamem.storage.base import TokenRecord
from novamem.storage.user_metrics import CredentialTotals, MinuteCounts, UsageDelta

ALICE_LAPTOP = Caller(tenant_id="t1", user_id="alice", credential=Credential.TOKEN, token_hash="a" * 64)
ALICE_CI = Caller(tenant_id="t1", user_id="alice", credential=Credential.TOKEN, token_hash="c" * 64)
ALICE_SESSION = Caller(tenant_id="t1", user_id="alice", credential=Credential.SESSION, session_id="s1")
BOB = Caller(tenant_id="t1", user_id="bob", credential=Credential.TOKEN, token_hash="b" * 64)
ALICE_ELSEWHERE = Caller(tenant_id="t2", user_id="alice", credential=Credential.TOKEN, token_hash="d" * 64)


class _Tokens:
    """The token listing the service reads (only `list_for_user` is called)."""

    def __init__(self, *records: TokenRecord) -> None:
        self.records = list(records)

    async def list_for_user(self, tenant_id: str, user_id: str) -> list[TokenRecord]:
        return [r for r in self.records if r.user_id == user_id]


class _FlakyStore:
    """A store whose first write fails; later writes are kept."""

    def __init__(self) -> None:
        self.failures = 1
        self.written: list[UsageDelta] = []

    async def add(self, deltas: list[UsageDelta]) -> None:
        if self.failures:
            self.failures -= 1
            raise Unavailable("database unavailable")
        self.written += deltas

    async def totals(self, tenant_id: str, user_id: str) -> list[CredentialTotals]:
        return []

    async def minutes(self, tenant_id: str, user_id: str, since: datetime) -> list[MinuteCounts]:
        return []

    async def prune(self, before: datetime) -> int:
        return 0

    async def entry_tiers(self, tenant_id: str, user_id: str) -> tuple[int, int]:
        return (0, 0)


def _token(token_hash: str, label: str, user_id: str = "alice") -> TokenRecord:
    return TokenRecord(
        token_hash=token_hash,
        user_id=user_id,
        label=label,
        scope="full",
        project_id=None,
        expires_at=None,
        created_at=datetime(2026, 1, 1),
        last_used_at=None,
        revoked_at=None,
    )


def test_requests_are_classified_as_the_reference_does() -> None:
    queries = ["/v1/search", "/v1/recent", "/v1/neighbors", "/v1/context"]
    assert all(classify_request("POST", p) is RequestKind.QUERY for p in queries)
    assert classify_request("GET", "/v1/context-prefix") is RequestKind.QUERY
    writes = ["/v1/remember", "/v1/capture", "/v1/session-recap"]
    assert all(classify_request("POST", p) is RequestKind.REMEMBER for p in writes)
    assert classify_request("POST", "/v1/forget") is RequestKind.FORGET
    for method, path in [("GET", "/v1/search"), ("POST", "/v1/me/import"), ("POST", "/mcp"), ("GET", "/v1/stats")]:
        assert classify_request(method, path) is None


async def test_counts_are_kept_per_user_and_credential() -> None:
    tokens = _Tokens(_token("a" * 64, "laptop"), _token("c" * 64, "ci"), _token("b" * 64, "bob's", "bob"))
    usage = UserMetricsService(None, tokens, MetricsService(None))
    for caller, kind in [
        (ALICE_LAPTOP, RequestKind.QUERY),
        (ALICE_LAPTOP, RequestKind.REMEMBER),
        (ALICE_CI, RequestKind.QUERY),
        (ALICE_SESSION, RequestKind.FORGET),
        (BOB, RequestKind.QUERY),
        (ALICE_ELSEWHERE, RequestKind.QUERY),  # same user id in another tenant: someone else
        (Caller.public(), RequestKind.QUERY),  # no account: never counted
    ]:
        usage.count(caller, kind)
    view = await usage.me(ALICE_LAPTOP)
    assert isinstance(view, UserMetrics)
    wire = view.to_wire()
    assert wire["counters"] == {"queries_total": 2, "remembers_total": 1, "forgets_total": 1}
    rows = {(t["credential"], t["label"]): t["counters"] for t in wire["tokens"]}
    assert rows == {
        ("token", "laptop"): {"queries_total": 1, "remembers_total": 1, "forgets_total": 0},
        ("token", "ci"): {"queries_total": 1, "remembers_total": 0, "forgets_total": 0},
        ("session", "dashboard"): {"queries_total": 0, "remembers_total": 0, "forgets_total": 1},
    }
    assert wire["rates"]["queries_per_sec_60s"] > 0
    history = (await usage.history(ALICE_SESSION, 1)).to_wire()
    assert sum(s["queries"] for s in history["samples"]) == 2 and history["hours"] == 1


async def test_an_admin_gets_the_global_snapshot_unless_restricted() -> None:
    admin = Caller(tenant_id="t1", user_id="root", is_admin=True, credential=Credential.TOKEN, token_hash="r" * 64)
    usage = UserMetricsService(None, _Tokens(_token("r" * 64, "cli", "root")), MetricsService(None))
    view = await usage.me(admin)
    assert isinstance(view, AdminUserMetrics)
    wire = view.to_wire()
    assert wire["_hasMyTokens"] is True and "queries_zero_hit" in wire["counters"]
    reader = Caller(
        tenant_id="t1", user_id="root", is_admin=True, credential=Credential.TOKEN, token_scope=TokenScope.READ_ONLY
    )
    assert isinstance(await usage.me(reader), UserMetrics)


@pytest.mark.parametrize("hours", [0, 49, -3])
async def test_history_refuses_hours_outside_1_to_48(hours: int) -> None:
    usage = UserMetricsService(None, _Tokens(), MetricsService(None))
    with pytest.raises(InvalidInput) as refused:
        await usage.history(ALICE_LAPTOP, hours)
    assert [issue["path"] for issue in refused.value.issues or []] == ["hours"]


async def test_a_failed_flush_keeps_the_counts_for_the_next_one() -> None:
    store = _FlakyStore()
    usage = UserMetricsService(store, _Tokens(), MetricsService(None))
    usage.count(ALICE_LAPTOP, RequestKind.QUERY)
    with pytest.raises(Unavailable):
        await usage.flush()
    usage.count(ALICE_LAPTOP, RequestKind.QUERY)
    usage.count(ALICE_SESSION, RequestKind.REMEMBER)
    assert (await usage.me(ALICE_LAPTOP)).counters.queries_total == 2  # still read back while unflushed
    await usage.flush()

    def sums() -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for d in store.written:
            q, r = out.get(d.credential, (0, 0))
            out[d.credential] = (q + d.queries, r + d.remembers)
        return out

    assert sums() == {"a" * 64: (2, 0), "": (0, 1)}
    await usage.flush()  # nothing left: nothing written twice
    assert sums() == {"a" * 64: (2, 0), "": (0, 1)}
