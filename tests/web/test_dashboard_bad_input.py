"""Hostile input on every dashboard screen: "bad input gets a clear error and loses nothing".

The sweep walks `novamem.web.screens.SCREENS` (a new screen is swept without touching this file) over plain
HTTP, as an admin and as a plain user, each holding real data (memories, a project with a member, a token)
next to a third account whose objects they must not reach:

- GET screens: every path parameter replaced by the caller's own objects, another account's objects, ids
  that do not exist and garbage (NUL, ill-formed UTF-8, `..`, very long, unicode); every query name the
  view reads (found in its code: the wire aliases of the request models it validates and the names it
  reads with `.get("…")`) set to wrong types, negative and huge numbers, arrays, empty values, NUL, 5000
  characters ...
- POST screens (session cookie and a trusted Origin): empty, unknown, repeated, wrongly typed, NUL,
  ill-formed-UTF-8 and 100 KB fields, JSON, multipart and wrongly typed bodies. A screen whose action needs
  no input at all (sign out, end the other sessions, clear the active project) is swept by a throwaway
  account with a fresh session per request. Actions on the caller's own objects only get bodies that the
  screen's own request model refuses (checked here before sending), or go to scratch objects.

Every answer must be below 500 and say what went wrong (the error page, the form with its errors, or the
JSON error envelope where the edge answers JSON); no signed-in request may lose its session. After each
screen the fixture data (memories, projects, members, tokens, accounts, active projects) must be exactly as
before; rows a screen created are only allowed when one of its POSTs was accepted, and are removed again.
Plus: every POST screen refuses a missing or foreign Origin (403), and anonymous callers get 401 on every
screen but the entry paths.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import CodeType, FunctionType
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest

from novamem.services.wire import Wire
from novamem.web.edge import ENTRY_PATHS
from novamem.web.flash import FLASH_COOKIE, FlashSigner
from novamem.web.forms import Form
from novamem.web.routing import Screen
from novamem.web.screens import SCREENS
from tests.conftest import RunningServer
from tests.web.conftest import COOKIE_SECRET, Account, new_session

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
# what an answer with status >= 400 shows: the error page, a form's errors, the sign-in page
ERROR_MARKERS = ('class="error-code"', 'role="alert"', 'aria-invalid="true"', 'id="sign-in"')
NOWHERE = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # a well-formed id that names nothing
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
_LITERAL_NAMES = (re.compile(r'\.get\(\s*"([A-Za-z_]\w*)"'), re.compile(r'"([A-Za-z_]\w*)"\s+in\s+fields'))

# path segments as sent (percent-encoded where needed); none of them is a name the sweep gives anything
JUNK_SEGMENTS = (
    ("nonexistent id", NOWHERE),
    ("nonexistent token hash", "0" * 64),
    ("NUL", "%00"),
    ("embedded NUL", "seg%00ment"),
    ("UTF-8 surrogate", "%ED%A0%80"),
    ("invalid UTF-8", "%ff%fe"),
    ("dot-dot", "%2e%2e"),
    ("dot", "%2e"),
    ("encoded slash", "a%2Fb"),
    ("unicode", "%C3%BC%F0%9F%92%A5-segment"),
    ("space", "%20"),
    ("negative", "-42"),
    ("huge number", "18446744073709551617"),
    ("markup", "%3Cscript%3E"),
    ("1500 characters", "s" * 1500),
)
# query values as sent (percent-encoded)
QUERY_VALUES = (
    ("empty", ""),
    ("word", "abc"),
    ("negative", "-1"),
    ("zero", "0"),
    ("huge negative", "-99999999999999999999"),
    ("huge", "99999999999999999999999999"),
    ("overflowing float", "1e309"),
    ("NaN", "NaN"),
    ("bool", "true"),
    ("NUL", "%00"),
    ("embedded NUL", "a%00b"),
    ("UTF-8 surrogate", "%ED%A0%80"),
    ("invalid UTF-8", "%ff%fe"),
    ("unicode", "%F0%9F%92%A5%C3%BC"),
    ("JSON array", "%5B1%2C2%5D"),
    ("JSON object", "%7B%22a%22%3A1%7D"),
    ("bad date", "2024-13-45T99%3A99%3A99"),
    ("traversal", "..%2F..%2Fetc%2Fpasswd"),
    ("markup", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    ("plus signs", "+++"),
    ("1500 characters", "q" * 1500),
    ("5000 characters", "q" * 5000),
)
# form field values as sent (percent-encoded)
BODY_VALUES = (
    ("empty", ""),
    ("word", "abc"),
    ("negative", "-1"),
    ("huge", "99999999999999999999999"),
    ("overflowing float", "1e309"),
    ("bool", "true"),
    ("JSON array", "%5B1%2C2%5D"),
    ("embedded NUL", "a%00b"),
    ("UTF-8 surrogate", "%ED%A0%80"),
    ("unicode", "%F0%9F%92%A5%C3%BC"),
    ("100 KB", "b" * 100_000),
)
# values that make a typed field (number, bool, choice, date, object) invalid
POISON_VALUES = ("not-a-number", "{")


# ---- what a screen reads, found in its code ---------------------------------------------------------------


def _names_in(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names_in(const)
    return names


def _closure(view: Callable[..., Any]) -> list[FunctionType]:
    """The view and every dashboard function it calls, transitively."""
    found: list[FunctionType] = []
    todo: list[Any] = [view]
    while todo:
        function = todo.pop()
        if not isinstance(function, FunctionType) or function in found:
            continue
        found.append(function)
        for name in _names_in(function.__code__):
            target = function.__globals__.get(name)
            if isinstance(target, FunctionType) and target.__module__.startswith("novamem.web"):
                todo.append(target)
    return found


@dataclass(frozen=True)
class Reads:
    """What a screen's view reads: request models, field names, and whether it reads the query and the body."""

    models: tuple[type[Wire], ...]
    names: tuple[str, ...]
    query: bool
    body: bool


def reads(screen: Screen) -> Reads:
    """What the screen's view and the dashboard functions it calls read (wire aliases and `.get("…")` names)."""
    functions = _closure(screen.view)
    used = set().union(*(_names_in(function.__code__) for function in functions))
    models: list[type[Wire]] = []
    for function in functions:
        for name in _names_in(function.__code__):
            target = function.__globals__.get(name)
            if isinstance(target, type) and issubclass(target, Wire) and target not in models:
                models.append(target)
    names = {info.alias or name for model in models for name, info in model.model_fields.items()}
    for function in functions:
        source = inspect.getsource(function)
        names |= {found for pattern in _LITERAL_NAMES for found in pattern.findall(source)}
    return Reads(tuple(models), tuple(sorted(names)), "query" in used, bool({"form", "fields"} & used))


def poison(models: Sequence[type[Wire]]) -> dict[str, str] | None:
    """Fields that make every one of `models` refuse a form, whatever else it holds (None: impossible)."""
    found: dict[str, str] = {}
    for model in models:
        for name, info in model.model_fields.items():
            alias = info.alias or name
            value = next((v for v in POISON_VALUES if alias in Form.submitted(model, {alias: v}).errors), None)
            if value is not None and alias not in found:
                found[alias] = value
    if not models or any(Form.submitted(model, found).model is not None for model in models):
        return None
    return found


def refused(models: Sequence[type[Wire]], pairs: Sequence[tuple[str, str]]) -> bool:
    """Whether every model refuses the form these (percent-encoded) pairs post, as the dashboard reads it."""
    fields: dict[str, str | list[str]] = {}
    for name, raw in pairs:
        value = unquote_plus(raw)
        kept = fields.get(name)
        fields[name] = value if kept is None else [*([kept] if isinstance(kept, str) else kept), value]
    return all(Form.submitted(model, fields).model is None for model in models)


# ---- the world: three accounts with data, scratch objects, a snapshot -------------------------------------


@dataclass(frozen=True)
class Holdings:
    """An account and what it made through the REST API."""

    account: Account
    memory: str
    project: str
    project_memory: str
    token_hash: str
    scratch_memory: str  # the sweep may change these two
    scratch_project: str


def _api(dashboard: RunningServer, account: Account) -> httpx.Client:
    return dashboard.client(cookies=new_session(dashboard, account), headers={"origin": dashboard.base_url})


def _created(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    found: str = response.json()["id"]
    return found


def _holdings(dashboard: RunningServer, account: Account, member: Account | None = None) -> Holdings:
    tag = f"{account.role}-{secrets.token_hex(3)}"
    with _api(dashboard, account) as api:
        project = _created(api.post("/v1/me/projects", json={"name": f"bad-input-{tag}"}))
        scratch_project = _created(api.post("/v1/me/projects", json={"name": f"bad-input-scratch-{tag}"}))
        if member is not None:
            added = api.post(f"/v1/me/projects/{project}/members", json={"username": member.email})
            assert added.status_code == 201, added.text
        remember = {"content": f"The {tag} account keeps its garden tools in the blue shed"}
        memory = _created(api.post("/v1/remember", json=remember))
        project_memory = _created(
            api.post("/v1/remember", json={"content": f"Project {tag} ships on the first Monday", "project": project})
        )
        scratch = {"content": f"Scratch note of {tag}: the sweep may rewrite this one"}
        scratch_memory = _created(api.post("/v1/remember", json=scratch))
        assert api.post("/v1/me/tokens", json={"label": f"fixture {tag}"}).status_code == 201
        tokens = api.get("/v1/me/tokens").json()["tokens"]
    (token_hash,) = [token["tokenHash"] for token in tokens if token["label"] == f"fixture {tag}"]
    return Holdings(account, memory, project, project_memory, token_hash, scratch_memory, scratch_project)


_TABLES = {"entries": "memory_entries", "projects": "projects", "tokens": "user_tokens", "users": "users"}
_KEYS = {"entries": "id", "projects": "id", "tokens": "token_hash", "users": "id"}


@dataclass
class World:
    """Who sweeps, what they hold, and the state that must survive the sweep."""

    dashboard: RunningServer
    admin: Holdings
    user: Holdings
    other: Holdings  # the third account, whose objects neither sweeper may reach
    scratch_user: Account  # the admin's target that the sweep may ban
    idle: dict[str, Account]  # by role: throwaway accounts for the screens that need no input
    baseline: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, set[str]] = field(default_factory=dict)

    @property
    def holdings(self) -> tuple[Holdings, ...]:
        return (self.admin, self.user, self.other)

    def members(self, holdings: Holdings) -> set[str]:
        """The user ids in `holdings`' project (as the fixtures made it)."""
        return {row[1] for row in self.baseline["members"] if row[0] == holdings.project}

    def fixture_state(self) -> dict[str, Any]:
        """Every stored fact the fixtures made, as rows."""
        users = [h.account.user_id for h in self.holdings]
        memories = [m for h in self.holdings for m in (h.memory, h.project_memory)]
        projects = [h.project for h in self.holdings]
        sql = self.dashboard.sql
        return {
            "memories": sql(
                "SELECT id, user_id, project_id, namespace, content, metadata::text, sensitivity, status, confidence,"
                " source_type, captured_from, expires_at FROM memory_entries WHERE id = ANY(%s) ORDER BY id",
                (memories,),
            ),
            "projects": sql("SELECT id, name, owner_user_id FROM projects WHERE id = ANY(%s) ORDER BY id", (projects,)),
            "members": sql(
                "SELECT project_id, user_id, role FROM project_members WHERE project_id = ANY(%s)"
                " ORDER BY project_id, user_id",
                (projects,),
            ),
            "tokens": sql(
                "SELECT token_hash, user_id, label, scope, project_id, expires_at, revoked_at FROM user_tokens"
                " WHERE token_hash = ANY(%s) ORDER BY token_hash",
                ([h.token_hash for h in self.holdings],),
            ),
            "users": sql(
                "SELECT id, email, name, role, password_hash, must_change_password, banned, ban_reason, ban_expires"
                " FROM users WHERE id = ANY(%s) ORDER BY id",
                (users,),
            ),
            "active": sql("SELECT user_id, project_id FROM user_active_project WHERE user_id = ANY(%s)", (users,)),
        }

    def stored_ids(self) -> dict[str, set[str]]:
        return {
            kind: {row[0] for row in self.dashboard.sql(f"SELECT {_KEYS[kind]} FROM {table}")}
            for kind, table in _TABLES.items()
        }

    def settle(self, where: str, accepted: int, problems: list[str]) -> None:
        """Check the fixture data after a screen's sweep; rows it created need an accepted POST, then go."""
        now = self.fixture_state()
        for part, rows in self.baseline.items():
            if now[part] != rows:
                problems.append(f"{where}: stored {part} changed:\n  before {rows}\n  after  {now[part]}")
        stored = self.stored_ids()
        for kind, before in self.ids.items():
            if before - stored[kind]:
                problems.append(f"{where}: {kind} vanished: {sorted(before - stored[kind])}")
            created = sorted(stored[kind] - before)
            if len(created) > accepted:
                problems.append(f"{where}: {len(created)} {kind} stored but {accepted} POSTs accepted")
            if created:
                self.dashboard.sql(f"DELETE FROM {_TABLES[kind]} WHERE {_KEYS[kind]} = ANY(%s)", (created,))
        self.ids = self.stored_ids()


@pytest.fixture(scope="module")
def world(dashboard: RunningServer, make_account: Callable[..., Account]) -> World:
    admin, user, other = make_account("admin"), make_account(), make_account()
    found = World(
        dashboard,
        admin=_holdings(dashboard, admin),
        user=_holdings(dashboard, user, member=other),
        other=_holdings(dashboard, other),
        scratch_user=make_account(),
        idle={"admin": make_account("admin"), "user": make_account()},
    )
    found.baseline = found.fixture_state()
    found.ids = found.stored_ids()
    assert found.members(found.user) == {user.user_id, other.user_id}
    return found


# ---- targets: what a path parameter is replaced by ---------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A path segment, and whether acting on it may change the caller's own data (`reach`)."""

    label: str
    raw: str
    reach: str  # own | scratch | foreign | junk


def targets(world: World, caller: Holdings, param: str) -> list[Target]:
    """What a path parameter is replaced by: the caller's own objects first (the default of multi-parameter
    paths), scratch objects, objects the caller must not reach, then junk."""
    other = world.other
    own: list[tuple[str, str]]
    scratch: list[tuple[str, str]] = []
    foreign: list[tuple[str, str]]
    if param == "entry_id":
        own = [("own memory", caller.memory), ("own project memory", caller.project_memory)]
        scratch = [("scratch memory", caller.scratch_memory)]
        foreign = [("another's memory", other.memory), ("another's project memory", other.project_memory)]
    elif param == "project_id":
        own = [("own project", caller.project)]
        scratch = [("scratch project", caller.scratch_project)]
        outsiders = [h for h in world.holdings if h is not caller and caller.account.user_id not in world.members(h)]
        foreign = [(f"project of {h.account.email}", h.project) for h in outsiders]
    elif param == "token_hash":
        own = [("own token", caller.token_hash)]
        foreign = [("another's token", other.token_hash)]
    elif param == "user_id":
        reachable = [h for h in world.holdings if caller.account.role == "admin" or h in (caller, world.other)]
        own = [(f"user {h.account.email}", h.account.user_id) for h in reachable]
        foreign = [(f"user {h.account.email}", h.account.user_id) for h in world.holdings if h not in reachable]
        if caller.account.role == "admin":
            scratch = [("scratch user", world.scratch_user.user_id)]
    else:
        raise AssertionError(f"no targets for the path parameter {param!r}: add them here")
    return [
        *(Target(label, raw, "own") for label, raw in own),
        *(Target(label, raw, "scratch") for label, raw in scratch),
        *(Target(label, raw, "foreign") for label, raw in foreign),
        *(Target(label, raw, "junk") for label, raw in JUNK_SEGMENTS),
    ]


def _fill(template: str, combo: Sequence[Target]) -> str:
    """The path with its parameters replaced, in order, by the targets' raw segments."""
    raws = iter(target.raw for target in combo)
    return _PARAM.sub(lambda _: next(raws), template)


def paths(world: World, caller: Holdings, screen: Screen) -> list[tuple[str, str, tuple[Target, ...]]]:
    """(label, path, targets): each parameter in turn through its targets, the others on the first one."""
    params = _PARAM.findall(screen.path)
    if not params:
        return [("", screen.path, ())]
    options = {param: targets(world, caller, param) for param in params}
    chosen: list[tuple[Target, ...]] = []
    for param in params:
        for target in options[param]:
            combo = tuple(target if p == param else options[p][0] for p in params)
            if combo not in chosen:
                chosen.append(combo)
    found = []
    for combo in chosen:
        found.append((", ".join(t.label for t in combo), _fill(screen.path, combo), combo))
    return found


# ---- bodies ------------------------------------------------------------------------------------------------

Pairs = list[tuple[str, str]]  # form fields, values percent-encoded as sent
BOUNDARY = "nm-sweep-boundary"
_MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def form_variants(names: Sequence[str]) -> list[tuple[str, Pairs]]:
    """Forms with missing, unknown, repeated and wrongly typed fields (each field in turn, then all at once)."""
    variants: list[tuple[str, Pairs]] = [
        ("empty form", []),
        ("unknown fields", [("zzz", "1"), ("__proto__%5Bx%5D", "1"), ("constructor", "%00")]),
    ]
    for name in names:
        variants += [(f"{name}: {label}", [(name, raw)]) for label, raw in BODY_VALUES]
        variants.append((f"{name}: repeated", [(name, "a"), (name, "b")]))
    if names:
        variants.append(("every field NUL", [(name, "%00") for name in names]))
        variants.append(("every field 100 KB", [(name, "b" * 100_000) for name in names]))
    return variants


def urlencoded(pairs: Pairs) -> bytes:
    return "&".join(f"{name}={raw}" for name, raw in pairs).encode()


def multipart(pairs: Pairs, *, upload: bool = True) -> bytes:
    """A multipart form of the same fields (raw bytes: an ill-formed UTF-8 value stays ill-formed), plus a file."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + unquote_plus(raw, encoding="latin-1").encode("latin-1")
        + b"\r\n"
        for name, raw in pairs
    ]
    if upload:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload"; filename="../../x.txt"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + b"\x00\xff\xfe binary\r\n"
        )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def raw_bodies(names: Sequence[str]) -> list[tuple[str, bytes | None, str | None]]:
    """Bodies that are not a well-formed form: none, malformed, JSON, multipart, the wrong type, too large."""
    fields = list(names) or ["field"]
    return [
        ("no body", None, None),
        ("malformed form", b"%zz&&==&=x&%ff=%fe&a=%", FORM),
        ("raw invalid UTF-8 and NUL bytes", b"a=\xff\xfe\x00&" + fields[0].encode() + b"=\xc3\x00", FORM),
        ("1500 fields", b"&".join(b"f%d=1" % i for i in range(1500)), FORM),
        ("JSON object", json.dumps({name: [1, {"a": None}] for name in fields}).encode(), JSON),
        ("JSON unpaired surrogate", b'{"' + fields[0].encode() + b'": "\\ud800 x"}', JSON),
        ("malformed JSON", b'{"a": ', JSON),
        ("JSON, no content type", json.dumps({name: "abc" for name in fields}).encode(), None),
        ("multipart", multipart([(name, "%F0%9F%92%A5") for name in fields]), _MULTIPART),
        ("multipart, ill-formed UTF-8", multipart([(name, "%ED%A0%80%ff%00") for name in fields]), _MULTIPART),
        ("multipart without boundary", b"--x\r\n\r\n", "multipart/form-data"),
        ("multipart, no parts", b"garbage without parts", _MULTIPART),
        ("text/plain", urlencoded([(fields[0], "abc")]), "text/plain"),
        ("XML", b"<form><a>1</a></form>", "application/xml"),
        ("form in UTF-16", urlencoded([(fields[0], "abc")]).decode().encode("utf-16"), f"{FORM}; charset=utf-16"),
        ("3 MB form", b"a=" + b"x" * 3_000_000, FORM),
    ]


# ---- one caller's requests ---------------------------------------------------------------------------------


def problem(response: httpx.Response) -> str | None:
    """What is wrong with an answer to hostile input, or None."""
    status, kind = response.status_code, response.headers.get("content-type", "")
    if status >= 500:
        return f"{status}: {response.text[:200]}"
    if status == 401:
        return "401: the session was lost"
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        return None if location.startswith("/admin") else f"{status} to {location!r}"
    if kind.startswith("text/html"):
        shown = status < 400 or any(marker in response.text for marker in ERROR_MARKERS)
        return None if shown else f"{status} page that names no error"
    if kind.startswith(JSON) and status >= 400:
        body = response.json()
        return None if isinstance(body, dict) and isinstance(body.get("error"), str) else f"{status} {body!r}"
    return f"{status} {kind}: {response.text[:200]}"


_FLASHES = FlashSigner(COOKIE_SECRET, secure=False)


def accepted(response: httpx.Response) -> bool:
    """Whether a POST did what it asked (200: a page such as a minted token; 303 without an error note)."""
    if response.status_code == 200:
        return True
    if response.status_code != 303:
        return False
    note = _FLASHES.read(response.cookies.get(FLASH_COOKIE))
    return note is None or note.kind != "error"


@dataclass
class Sweep:
    """One caller's client, and what its answers showed."""

    client: httpx.Client
    origin: str
    problems: list[str]
    sent: int = 0
    accepted: int = 0

    def send(self, method: str, target: str, label: str, body: bytes | None = None, kind: str | None = None) -> None:
        headers = {"origin": self.origin} if method == "POST" else {}
        if kind is not None:
            headers["content-type"] = kind
        response = self.client.request(method, target, content=body, headers=headers)
        self.sent += 1
        found = problem(response)
        if found is not None:
            self.problems.append(f"{method} {target[:120]} [{label}]: {found}")
        if method == "POST" and accepted(response):
            self.accepted += 1

    def form(self, target: str, label: str, pairs: Pairs, *, also_multipart: bool = False) -> None:
        self.send("POST", target, label, urlencoded(pairs), FORM)
        if also_multipart:
            self.send("POST", target, f"{label} (multipart)", multipart(pairs), _MULTIPART)


def query_variants(names: Sequence[str]) -> list[tuple[str, str]]:
    """(label, query string): each name in turn with every hostile value, as an array, and without a value."""
    found = []
    for name in names:
        found += [(f"{name}={label}", f"{name}={raw}") for label, raw in QUERY_VALUES]
        found += [
            (f"{name} twice", f"{name}=1&{name}=2"),
            (f"{name}[]", f"{name}%5B%5D=1&{name}%5B0%5D=2"),
            (f"{name} without =", name),
        ]
    return found


ALL_NAMES = sorted({name for screen in SCREENS for name in reads(screen).names})


def combined_queries(names: Sequence[str]) -> list[tuple[str, str]]:
    """A few queries that set every name at once (for pages that read none, and as a last blow)."""
    return [
        ("every name NUL", "&".join(f"{name}=%00" for name in names)),
        ("every name negative", "&".join(f"{name}=-1" for name in names)),
        ("every name twice", "&".join(f"{name}=a&{name}=b" for name in names)),
        ("garbage query", "%zz&&==&=x&%ff=%fe&a=%"),
    ]


def anchors(caller: Holdings, read: Reads) -> dict[str, str]:
    """Sound values for the names that open a page's deeper paths (a search text, a graph seed), so the
    hostile value of every other name is also tried where it is used."""
    sound = {"q": "garden+tools", "seed": caller.memory}
    return {name: value for name, value in sound.items() if name in read.names}


def sweep_get(sweep: Sweep, world: World, caller: Holdings, screen: Screen, read: Reads) -> None:
    """Every path target; on the first path every hostile query, alone and next to the anchors."""
    found = paths(world, caller, screen)
    for label, path, _ in found:
        sweep.send("GET", path, label)
    first = found[0][1]
    if not read.query:
        for label, query in combined_queries(ALL_NAMES):
            sweep.send("GET", f"{first}?{query}", label)
        return
    base = anchors(caller, read)
    for label, query in [*query_variants(read.names), *combined_queries(read.names), *combined_queries(ALL_NAMES)]:
        sweep.send("GET", f"{first}?{query}", label)
        kept = "&".join(f"{name}={value}" for name, value in base.items() if not query.startswith(name))
        if kept:
            sweep.send("GET", f"{first}?{kept}&{query}", f"{label}, with {kept}")


def sweep_post(sweep: Sweep, world: World, caller: Holdings, screen: Screen, read: Reads) -> None:
    """Every body to the screen's safe targets; refused bodies only to the caller's own objects."""
    guarded = screen.admin and caller.account.role != "admin"  # refused before the view, whatever the target
    spoiler = poison(read.models) if read.body else None
    suffix = "?" + combined_queries(ALL_NAMES)[0][1] if read.query else ""
    fully = False
    for label, path, combo in paths(world, caller, screen):
        reach = {target.reach for target in combo}
        target = path + suffix
        if not combo or (reach & {"foreign"} and not reach & {"junk"}) or (guarded and not fully):
            _every_body(sweep, target, label, read)
            fully = True
        elif guarded or reach & {"foreign", "junk"}:
            sweep.form(target, f"{label}, empty form", [])
            sweep.form(target, f"{label}, every field wrong", [(name, "%00") for name in read.names])
        elif reach == {"own"} and spoiler is not None:
            for variant, pairs in form_variants(read.names):
                spoiled = [*pairs, *spoiler.items()]
                assert refused(read.models, spoiled), (screen.path, variant)
                sweep.form(target, f"{label}, {variant}, refused", spoiled, also_multipart=not pairs)
        elif "scratch" in reach and read.body:
            _every_body(sweep, target, label, read)


def _every_body(sweep: Sweep, target: str, label: str, read: Reads) -> None:
    for variant, pairs in form_variants(read.names):
        sweep.form(target, f"{label}, {variant}", pairs, also_multipart=variant.startswith("every field NUL"))
    for variant, body, kind in raw_bodies(read.names):
        sweep.send("POST", target, f"{label}, {variant}", body, kind)


def sweep_input_free(world: World, role: str, screen: Screen, read: Reads, problems: list[str]) -> int:
    """A screen whose action needs no input: any request does it, so a throwaway account, a new session each."""
    account, dashboard = world.idle[role], world.dashboard
    bodies: list[tuple[str, bytes | None, str | None]] = [
        *((label, urlencoded(pairs), FORM) for label, pairs in form_variants(ALL_NAMES[:3])[:8]),
        *raw_bodies(read.names),
    ]
    for label, body, kind in bodies:
        with dashboard.client(cookies=new_session(dashboard, account)) as client:
            sweep = Sweep(client, dashboard.base_url, problems)
            sweep.send("POST", screen.path, f"{account.email}, {label}", body, kind)
    return len(bodies)


# ---- the tests ---------------------------------------------------------------------------------------------


def _needs_no_input(screen: Screen, read: Reads) -> bool:
    return screen.method == "POST" and not read.body and not _PARAM.search(screen.path)


@pytest.mark.parametrize("role", ["user", "admin"])
def test_no_hostile_input_breaks_a_screen_or_the_stored_data(world: World, role: str) -> None:
    caller = world.admin if role == "admin" else world.user
    problems: list[str] = []
    sent: dict[str, int] = {}
    with world.dashboard.client(cookies=new_session(world.dashboard, caller.account)) as client:
        sweep = Sweep(client, world.dashboard.base_url, problems)
        for screen in SCREENS:
            read, before, accepted_before = reads(screen), sweep.sent, sweep.accepted
            if screen.method == "GET":
                sweep_get(sweep, world, caller, screen, read)
            elif _needs_no_input(screen, read):
                sweep.sent += sweep_input_free(world, role, screen, read, problems)
            else:
                sweep_post(sweep, world, caller, screen, read)
            sent[f"{screen.method} {screen.path}"] = sweep.sent - before
            world.settle(f"{screen.method} {screen.path}", sweep.accepted - accepted_before, problems)
    assert set(sent) == {f"{screen.method} {screen.path}" for screen in SCREENS}
    assert all(count >= 3 for count in sent.values()), sent
    assert problems == [], f"{len(problems)} problems in {sweep.sent} requests:\n" + "\n".join(problems[:60])
    logging.getLogger(__name__).info("%s sweep: %d requests over %d screens", role, sweep.sent, len(sent))


ORIGIN_FAULTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("no Origin", {}),
    ("a foreign Origin", {"origin": "http://evil.example"}),
    ("a null Origin", {"origin": "null"}),
    ("only a foreign Referer", {"referer": "http://evil.example/admin/"}),
)


@pytest.mark.parametrize("role", ["user", "admin"])
def test_every_post_screen_refuses_a_missing_or_foreign_origin(world: World, role: str) -> None:
    account = (world.admin if role == "admin" else world.user).account
    dashboard = world.dashboard
    for screen in SCREENS:
        if screen.method != "POST":
            continue
        path = _PARAM.sub(NOWHERE, screen.path)
        for label, headers in ORIGIN_FAULTS:
            # a new session each time: were the rule broken, sign-out would end it
            with dashboard.client(cookies=new_session(dashboard, account)) as client:
                r = client.post(path, content=b"name=x", headers={"content-type": FORM, **headers})
            assert r.status_code == 403, (path, label, r.status_code)
            assert r.headers["content-type"].startswith("text/html") and 'class="error-code"' in r.text
    problems: list[str] = []
    world.settle("origin refusals", 0, problems)
    assert problems == []


def test_anonymous_callers_get_401_on_every_screen_but_the_entry_paths(world: World) -> None:
    with world.dashboard.client(headers={"origin": world.dashboard.base_url}) as anonymous:
        for screen in SCREENS:
            path = _PARAM.sub(NOWHERE, screen.path)
            entry = screen.method == "GET" and path in ENTRY_PATHS
            r = anonymous.request(screen.method, path, headers={"accept": JSON})
            assert r.status_code == (200 if entry else 401), (screen.method, path)
            if not entry:
                assert r.json() == {"error": "unauthorized"}
            page = anonymous.request(screen.method, path, headers=HTML)
            assert page.status_code == (200 if entry else 401), (screen.method, path)
            assert page.headers["content-type"].startswith("text/html") and 'id="sign-in"' in page.text
