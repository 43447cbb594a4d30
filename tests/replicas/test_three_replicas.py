"""Three `novamem serve` processes on one PostgreSQL, behind a round-robin proxy without affinity, behave as
one server: the per-IP rate limit, write quotas, sign-in lockouts, MCP sessions and their per-user cap are
counted once for the deployment, background jobs have exactly one runner (and another replica takes over
when it dies), and a replica killed mid-load loses no acknowledged write.

Every request goes through the proxy (`tests/replicas/proxy.py`), which opens a new connection to the next
replica for each request and records which replica served it; the replicas trust it for
`X-Forwarded-For`, so each client of a test connects from its own loopback address (127.0.0.x) and has a
rate-limit budget of its own, as distinct clients on the internet would.
"""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import free_port, wait_for
from tests.replicas.proxy import TAG_HEADER, RoundRobinProxy

REPLICAS = 3
RATE_LIMIT = 50  # per client IP and minute; the load test's clients stay below it (300 requests over 8 IPs)
SESSION_CAP = 3
RECONCILE_INTERVAL_S = 0.5
ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "first-admin-pass-3141"
LEADER_LOCK = 7_778_002  # the jobs' advisory lock key (storage/postgres/leader.py)
ACCEPT = "application/json, text/event-stream"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

_addresses = (f"127.0.{n // 250}.{n % 250 + 2}" for n in itertools.count(10))


def new_ip() -> str:
    """A loopback address no other client of this module has used: a client with a budget of its own."""
    return next(_addresses)


@dataclass
class Replica:
    """One `novamem serve` process, its port and its log file."""

    index: int
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def started(self) -> bool:
        """Ready, or exited (so a failed start is reported at once, not after the timeout)."""
        return self.ready() or not self.alive()

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no flush, connections cut."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if not self.alive():
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class Deployment:
    """Three replicas, the proxy in front of them, their database and an admin's API token."""

    replicas: list[Replica]
    proxy: RoundRobinProxy
    database_url: str
    admin_token: str

    def client(self, ip: str, token: str | None = None) -> httpx.Client:
        """A client of the proxy connecting from `ip`."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        transport = httpx.HTTPTransport(local_address=ip)
        return httpx.Client(base_url=self.proxy.url, transport=transport, headers=headers, timeout=30)

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def create_user(self, password: str = "user-pass-12345") -> tuple[str, str, str]:
        """(user id, email, first API token) of a user the admin creates over the API."""
        email = f"user-{secrets.token_hex(4)}@example.com"
        with self.client(new_ip(), self.admin_token) as admin:
            r = admin.post("/v1/admin/users", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        return r.json()["userId"], email, r.json()["token"]

    def set_quota(self, user_id: str, **quota: int) -> None:
        with self.client(new_ip(), self.admin_token) as admin:
            r = admin.put(f"/v1/admin/users/{user_id}/quota", json=quota)
        assert r.status_code == 200, r.text

    def leader(self) -> int | None:
        """Index of the replica holding the jobs' leader lock on this database (from `PGAPPNAME`)."""
        rows = self.sql(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = %s"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LEADER_LOCK,),
        )
        assert len(rows) <= 1
        return int(rows[0][0].rsplit("-", 1)[1]) if rows else None

    def runs(self, job: str) -> int:
        rows = self.sql("SELECT runs FROM job_runs WHERE job = %s", (job,))
        return int(rows[0][0]) if rows else 0


def send(
    api: httpx.Client, proxy: RoundRobinProxy, method: str, path: str, **kwargs: Any
) -> tuple[httpx.Response, int]:
    """One request through the proxy, and the index of the replica that served it."""
    tag = uuid.uuid4().hex
    headers = {TAG_HEADER: tag, **kwargs.pop("headers", {})}
    response = api.request(method, path, headers=headers, **kwargs)
    upstream = proxy.find(tag).upstream
    assert upstream is not None
    return response, upstream


def _environment(database_url: str, proxy_url: str) -> dict[str, str]:
    """The replicas' shared settings: user mode behind the proxy, a small rate limit and session cap, and
    jobs on a short interval; nothing of the developer's NOVAMEM_*, OTEL_* or libpq PG* variables leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOVAMEM_", "OTEL_", "PG")) and k != "LOG_LEVEL"}
    env.update(
        NOVAMEM_DATABASE_URL=database_url,
        NOVAMEM_AUTH_MODE="user",
        NOVAMEM_COOKIE_SECRET=secrets.token_urlsafe(48),
        NOVAMEM_INSECURE_COOKIES="1",
        NOVAMEM_BASE_URL=proxy_url,
        NOVAMEM_TRUSTED_PROXIES="127.0.0.1",
        NOVAMEM_RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT),
        NOVAMEM_MAX_SESSIONS_PER_USER=str(SESSION_CAP),
        NOVAMEM_EMBEDDINGS_PROVIDER="none",
        NOVAMEM_JOBS_ENABLED="1",
        NOVAMEM_EMBEDDINGS_RECONCILE_INTERVAL_MS=str(int(RECONCILE_INTERVAL_S * 1000)),
        NOVAMEM_BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        NOVAMEM_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        NOVAMEM_PG_POOL_MAX="6",
        NOVAMEM_LOG_LEVEL="warn",
    )
    return env


def _spawn(index: int, port: int, env: dict[str, str], root: Path) -> Replica:
    data_dir = root / f"replica-{index}"
    data_dir.mkdir()
    log = root / f"replica-{index}.log"
    replica_env = {**env, "NOVAMEM_DATA_DIR": str(data_dir), "PGAPPNAME": f"novamem-replica-{index}"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "novamem", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=replica_env,
            cwd=data_dir,  # no stray .env is read
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Replica(index, port, process, log)


def _admin_token(env: dict[str, str], root: Path) -> str:
    """The bootstrap admin's API token, minted with the CLI as an operator would."""
    done = subprocess.run(
        [sys.executable, "-m", "novamem", "token", "create", "--email", ADMIN_EMAIL, "--label", "replica-test"],
        env=env,
        cwd=root,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip()


@pytest.fixture(scope="module")
def deployment(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    database_url = make_database()
    root = tmp_path_factory.mktemp("replicas")
    ports = [free_port() for _ in range(REPLICAS)]
    proxy = RoundRobinProxy(ports)
    proxy.start()
    env = _environment(database_url, proxy.url)
    replicas: list[Replica] = []
    try:
        replicas.extend(_spawn(i, port, env, root) for i, port in enumerate(ports))
        for replica in replicas:
            if not wait_for(replica.started, timeout=120, every=0.2) or not replica.alive():
                pytest.fail(f"replica {replica.index} did not become ready:\n{replica.log.read_text()[-3000:]}")
        yield Deployment(replicas, proxy, database_url, _admin_token(env, root))
    finally:
        for replica in replicas:
            replica.stop()
        proxy.stop()


def test_three_replicas_start_on_one_database_with_one_bootstrap_admin(deployment: Deployment) -> None:
    assert all(r.alive() and r.ready() for r in deployment.replicas)
    assert deployment.sql("SELECT email FROM users WHERE role = 'admin'") == [(ADMIN_EMAIL,)]


def test_the_per_ip_rate_limit_is_one_budget_for_the_deployment(deployment: Deployment) -> None:
    _, _, token = deployment.create_user()
    proxy = deployment.proxy
    with deployment.client(new_ip(), token) as api:
        answered = [send(api, proxy, "GET", "/v1/me/usage") for _ in range(RATE_LIMIT)]
        assert [r.status_code for r, _ in answered] == [200] * RATE_LIMIT
        # one shared count: the remaining budget falls by one per request, whichever replica answers
        remaining = [int(r.headers["x-ratelimit-remaining"]) for r, _ in answered]
        assert remaining == list(range(RATE_LIMIT - 1, -1, -1))
        assert {r.headers["x-ratelimit-limit"] for r, _ in answered} == {str(RATE_LIMIT)}
        assert {replica for _, replica in answered} == set(range(REPLICAS))
        # request N+1 is refused, and so is the next one on each of the other replicas
        refused = [send(api, proxy, "GET", "/v1/me/usage") for _ in range(REPLICAS)]
        assert {replica for _, replica in refused} == set(range(REPLICAS))
        for response, _ in refused:
            assert response.status_code == 429
            wait = int(response.headers["retry-after"])
            assert 1 <= wait <= 60
            assert response.headers["x-ratelimit-reset"] == str(wait)
            assert response.json() == {"error": f"Rate limit exceeded, retry in {wait} seconds"}
    # another client has a budget of its own
    with deployment.client(new_ip(), token) as other:
        assert other.get("/v1/me/usage").status_code == 200


def remember(api: httpx.Client, proxy: RoundRobinProxy, content: str) -> tuple[httpx.Response, int]:
    return send(api, proxy, "POST", "/v1/remember", json={"content": content, "force": True})


def test_write_quotas_are_counted_once_for_the_deployment(deployment: Deployment) -> None:
    proxy = deployment.proxy
    writer_id, _, writer = deployment.create_user()
    deployment.set_quota(writer_id, writesPerMinute=5)
    with deployment.client(new_ip(), writer) as api:
        written = [remember(api, proxy, f"Quota window fact number {i} for the writer") for i in range(5)]
        assert [r.status_code for r, _ in written] == [201] * 5
        assert {replica for _, replica in written} == set(range(REPLICAS))
        refused = [remember(api, proxy, f"Quota window fact {i} over the budget") for i in range(REPLICAS)]
        assert {replica for _, replica in refused} == set(range(REPLICAS))
        for response, _ in refused:
            assert response.status_code == 429
            assert response.json() == {"error": "write quota exceeded: 5 writes/minute — retry after the window resets"}
            assert 1 <= int(response.headers["retry-after"]) <= 60
    assert deployment.sql("SELECT count(*) FROM memory_entries WHERE user_id = %s", (writer_id,)) == [(5,)]

    capped_id, _, capped = deployment.create_user()
    deployment.set_quota(capped_id, maxEntries=4)
    with deployment.client(new_ip(), capped) as api:
        stored = [remember(api, proxy, f"Entry cap fact number {i} for the capped user") for i in range(4)]
        assert [r.status_code for r, _ in stored] == [201] * 4
        # every replica knows the cap is reached, though each saw only some of the writes
        refused = [remember(api, proxy, f"Entry cap fact {i} past the cap") for i in range(2 * REPLICAS)]
        assert {replica for _, replica in refused} == set(range(REPLICAS))
        for response, _ in refused:
            assert response.status_code == 429, response.text
            assert response.json() == {"error": "entry quota exceeded: 4 stored entries — forget something first"}
    assert deployment.sql("SELECT count(*) FROM memory_entries WHERE user_id = %s", (capped_id,)) == [(4,)]


def test_a_sign_in_lockout_holds_on_every_replica(deployment: Deployment) -> None:
    proxy = deployment.proxy
    _, email, _ = deployment.create_user(password="right-password-1")
    failures = []
    for _ in range(5):  # each from its own address: the per-IP sign-in throttle never steps in
        with deployment.client(new_ip()) as api:
            failures.append(
                send(api, proxy, "POST", "/api/auth/sign-in/email", json={"email": email, "password": "bad-pass-1"})
            )
    assert [r.status_code for r, _ in failures] == [401] * 5
    assert {replica for _, replica in failures} == set(range(REPLICAS))
    refused = []
    for _ in range(REPLICAS):
        with deployment.client(new_ip()) as api:
            refused.append(
                send(
                    api, proxy, "POST", "/api/auth/sign-in/email", json={"email": email, "password": "right-password-1"}
                )
            )
    assert {replica for _, replica in refused} == set(range(REPLICAS))
    for response, _ in refused:
        assert response.status_code == 429
        body = response.json()
        assert body["error"] == "too many failed attempts — try again later"
        assert 0 < body["retryAfter"] <= 900
        assert "set-cookie" not in response.headers


def mcp(
    api: httpx.Client, proxy: RoundRobinProxy, body: dict[str, Any], session: str | None = None
) -> tuple[httpx.Response, int]:
    headers = {"accept": ACCEPT, "mcp-protocol-version": "2025-06-18"}
    if session is not None:
        headers["mcp-session-id"] = session
    return send(api, proxy, "POST", "/mcp", json=body, headers=headers)


def test_mcp_sessions_and_their_per_user_cap_span_the_replicas(deployment: Deployment) -> None:
    proxy = deployment.proxy
    user_id, _, token = deployment.create_user()
    with deployment.client(new_ip(), token) as api:
        opened, opened_on = mcp(api, proxy, INIT)
        assert opened.status_code == 200, opened.text
        session = opened.headers["mcp-session-id"]
        # the next requests of the session land on the other replicas, which serve it
        used = [mcp(api, proxy, LIST, session) for _ in range(REPLICAS - 1)]
        assert {opened_on, *(replica for _, replica in used)} == set(range(REPLICAS))
        for response, _ in used:
            assert response.status_code == 200, response.text
            assert response.headers["mcp-session-id"] == session
            assert "memory_search" in {tool["name"] for tool in response.json()["result"]["tools"]}
        others = [mcp(api, proxy, INIT)[0] for _ in range(SESSION_CAP - 1)]
        assert [r.status_code for r in others] == [200] * (SESSION_CAP - 1)
        # the cap counts the sessions opened on every replica, and every replica enforces it
        refused = [mcp(api, proxy, INIT) for _ in range(REPLICAS)]
        assert {replica for _, replica in refused} == set(range(REPLICAS))
        for response, _ in refused:
            assert response.status_code == 429
            assert response.json() == {"error": "too many concurrent MCP sessions for this user"}
            assert "mcp-session-id" not in response.headers
        # closing the session (on whichever replica) frees a slot everywhere
        closed, _ = send(api, proxy, "DELETE", "/mcp", headers={"mcp-session-id": session})
        assert closed.status_code == 204
        gone = [mcp(api, proxy, LIST, session)[0] for _ in range(REPLICAS)]
        assert [(r.status_code, r.json()) for r in gone] == [(404, {"error": "unknown sessionId"})] * REPLICAS
        assert mcp(api, proxy, INIT)[0].status_code == 200
    assert deployment.sql("SELECT count(*) FROM mcp_sessions WHERE user_id = %s", (user_id,)) == [(SESSION_CAP,)]


def test_background_jobs_have_exactly_one_runner(deployment: Deployment) -> None:
    # every job is due at once when a replica becomes the leader: three runners would have run each three times
    hourly = ("expiry-purge", "change-feed-prune", "sessions-prune")
    assert wait_for(lambda: all(deployment.runs(job) >= 1 for job in hourly), timeout=30)
    leader = deployment.leader()
    assert leader is not None
    before, started = deployment.runs("embeddings-reconcile"), time.monotonic()
    time.sleep(3)
    ran, elapsed = deployment.runs("embeddings-reconcile") - before, time.monotonic() - started
    # at most one run per interval (three runners would make about three times as many)
    assert 1 <= ran <= elapsed / RECONCILE_INTERVAL_S + 1
    assert [deployment.runs(job) for job in hourly] == [1, 1, 1]
    assert deployment.leader() == leader


@dataclass
class _Outcome:
    """What one client of the load saw for its write."""

    content: str
    status: int | None = None  # None: no answer at all (the connection broke)


LOAD_REQUESTS = 300
LOAD_THREADS = 8


def test_killing_the_leader_mid_load_loses_no_acknowledged_write_and_hands_over_the_jobs(
    deployment: Deployment,
) -> None:
    proxy = deployment.proxy
    user_id, _, token = deployment.create_user()
    victim = deployment.leader()
    assert victim is not None
    purges = deployment.runs("expiry-purge")
    pending = iter(range(LOAD_REQUESTS))
    take = threading.Lock()
    outcomes: dict[int, _Outcome] = {}

    def work() -> None:
        with deployment.client(new_ip(), token) as api:
            while True:
                with take:
                    i = next(pending, None)
                if i is None:
                    return
                outcome = outcomes[i] = _Outcome(content=f"Load fact {i}: deploy marker {uuid.uuid4().hex}")
                try:
                    r = api.post("/v1/remember", json={"content": outcome.content}, headers={TAG_HEADER: f"load-{i}"})
                except httpx.HTTPError:
                    continue  # no answer at all: the status stays None
                outcome.status = r.status_code

    threads = [threading.Thread(target=work, daemon=True) for _ in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    assert wait_for(lambda: sum(o.status is not None for o in list(outcomes.values())) >= LOAD_REQUESTS // 3, 60, 0.01)
    deployment.replicas[victim].kill()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert proxy.wait_idle()

    assert len(outcomes) == LOAD_REQUESTS
    acknowledged = {i for i, o in outcomes.items() if o.status is not None and 200 <= o.status < 300}
    failed = set(outcomes) - acknowledged
    # no acknowledged write is lost
    stored = {row[0] for row in deployment.sql("SELECT content FROM memory_entries WHERE user_id = %s", (user_id,))}
    assert {outcomes[i].content for i in acknowledged} <= stored
    # the only failures are requests that were in flight on the killed replica
    assert len(failed) <= LOAD_THREADS
    for i in failed:
        routed = proxy.find(f"load-{i}")
        assert routed.upstream == victim and routed.failed, (i, routed, outcomes[i])
        assert outcomes[i].status in (None, 502)
    served = {proxy.find(f"load-{i}").upstream for i in acknowledged}
    assert served == set(range(REPLICAS))  # every replica took part before the kill
    # once it was down, the proxy sent it nothing more: later requests all went to the survivors
    skipped = [r for r in proxy.routed() if r.tag and r.tag.startswith("load-") and victim in r.refused]
    assert skipped and all(r.upstream != victim and r.status == 201 for r in skipped)

    # another replica takes the jobs over: it holds the lock and runs them as a new leader
    survivors = set(range(REPLICAS)) - {victim}
    assert wait_for(lambda: deployment.leader() in survivors, timeout=30)
    assert wait_for(lambda: deployment.runs("expiry-purge") == purges + 1, timeout=30)
    with deployment.client(new_ip(), token) as api:
        assert all(api.get("/v1/me/usage").status_code == 200 for _ in survivors)
