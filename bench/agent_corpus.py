"""A synthetic benchmark of how coding agents use memory: projects, their facts, and questions about them.

Written for novamem in our own words (no LoCoMo text). Eight made-up projects, each the memory of one
user kept in its own namespace. Every memory is filled in from a template with values drawn by a seeded
`random.Random`, so the same seed always gives the same memories, times and questions. Four kinds of
question, each with the memories that answer it (its evidence):

- `updated`: a fact that changed over time (a port, a host, a version, an owner); two or three versions
  are stored in time order with increasing `occurredAt`, and only the newest answers the question. The
  older versions are kept as `superseded`, so a ranking can be checked for stale answers above the newest.
- `preference`: how the user wants things done ("Use pnpm, never npm"), asked indirectly ("which package
  manager should I run for the frontend?").
- `paraphrase`: a setup fact asked in other words, with few words in common ("The CI runners live in
  eu-west-1" asked as "which AWS region do our build machines run in?").
- `two-memory`: the answer joins two memories ("payments is owned by team Falcon" and "team Falcon's
  on-call engineer is Priya" for "who is on call for payments?"); the evidence is both.

Distractors fill every namespace: the same kinds of fact about other services, environments and teams,
entity facts that no question asks about, and everyday work notes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = [
    "CATEGORIES",
    "DEFAULT_SEED",
    "AgentQuestion",
    "Memory",
    "Project",
    "build_projects",
    "template_counts",
]

DEFAULT_SEED = 20261203
CATEGORIES = ("updated", "preference", "paraphrase", "two-memory")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SPAN_WEEKS = 46  # occurredAt falls between START and about eleven months later
CHAINS_PER_PROJECT = 7
PREFERENCES_PER_PROJECT = 6
SETUP_FACTS_PER_PROJECT = 11  # stored; PARAPHRASE_QUESTIONS of them are asked about
PARAPHRASE_QUESTIONS = 8
TWO_MEMORY_QUESTIONS = 6
NOTES_PER_PROJECT = 30  # drawn from the templates with repeats, every text distinct
THIRD_VERSION_SHARE = 0.35
JOIN_TEMPLATES = 4  # the questions of `_two_memory`

PROJECT_NAMES = ("Larkspur", "Quillon", "Tidewater", "Brackenfield", "Copperleaf", "Marrowgate", "Saltmarsh", "Windrow")
SERVICES = (
    "payments billing search auth notifications ingest reporting gateway scheduler inventory checkout catalog"
    " profile mailer exporter webhooks pricing ledger media geocoder"
).split()
TEAMS = "Falcon Heron Otter Lynx Badger Kestrel Marten Puffin Osprey Wren Bison Ibis".split()
PEOPLE = (
    "Priya Tomasz Amara Jonas Leilani Dmitri Sofia Kwame Ines Ravi Hannah Mateus Yuki Farah Oskar Chidi Elena"
    " Bruno Saanvi Gideon Nadia Lucas Aiyana Henrik Zainab Pablo Mirela Theo Ayumi Declan"
).split()
ENVIRONMENTS = ("staging", "qa", "dev", "analytics", "load-test")
PLATFORMS = (
    "Heroku",
    "the Kubernetes cluster",
    "AWS Lambda",
    "Fly.io",
    "Google Cloud Run",
    "ECS Fargate",
    "two bare-metal boxes in the office",
    "a Nomad cluster",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
BRANCHES = ("develop", "main", "trunk", "next", "integration")
PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
DATABASES = ("core", "events", "archive", "accounts")


@dataclass(frozen=True, slots=True)
class Memory:
    """One stored memory: a key unique in the benchmark, its text and when the thing happened."""

    key: str
    text: str
    occurred_at: datetime

    @property
    def occurred_at_iso(self) -> str:
        return self.occurred_at.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AgentQuestion:
    """A question, its category, the memory keys that answer it and (`updated`) the older versions."""

    text: str
    category: str
    evidence: tuple[str, ...]
    superseded: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Project:
    """One synthetic user's project: its namespace, its memories in time order and its questions."""

    name: str
    namespace: str
    memories: tuple[Memory, ...]
    questions: tuple[AgentQuestion, ...]


@dataclass
class _Builder:
    """Collects one project's memories (with a week slot each) and questions while templates fill in."""

    rng: random.Random
    name: str
    seen: set[str]
    services: list[str]
    teams: list[str]
    people: list[str]
    texts: list[tuple[str, int]] = field(default_factory=list)
    questions: list[AgentQuestion] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.name.lower()

    @property
    def domain(self) -> str:
        return f"{self.slug}.example"

    def add(self, text: str, week: int | None = None) -> str:
        """Store `text` (made distinct from every other project's texts) and return its key."""
        text = text[0].upper() + text[1:]
        if text in self.seen:
            text = f"{self.name}: {text}"
        if text in self.seen:
            raise ValueError(f"duplicate memory text: {text}")
        self.seen.add(text)
        self.texts.append((text, self.rng.randrange(SPAN_WEEKS) if week is None else week))
        return self.key_of(len(self.texts) - 1)

    def key_of(self, index: int) -> str:
        return f"{self.slug}-{index:03d}"

    def chain(self, versions: list[str], question: str) -> None:
        """Two or three versions of one fact, in increasing weeks; the last one answers `question`."""
        count = 3 if self.rng.random() < THIRD_VERSION_SHARE else 2
        weeks = sorted(self.rng.sample(range(SPAN_WEEKS), count))
        keys = [self.add(text, week) for text, week in zip(versions[:count], weeks, strict=True)]
        self.questions.append(AgentQuestion(question, "updated", (keys[-1],), tuple(keys[:-1])))

    def ask(self, category: str, question: str, *keys: str) -> None:
        self.questions.append(AgentQuestion(question, category, keys))

    def other(self, pool: list[str], *taken: str) -> str:
        return self.rng.choice([x for x in pool if x not in taken])


# --- updated facts: versions (oldest first) and the question; each also stores a look-alike distractor ---


def _db_port(b: _Builder) -> None:
    env, *others = b.rng.sample(ENVIRONMENTS, 3)
    ports = b.rng.sample(range(5400, 5500), 5)
    b.chain(
        [
            f"The {env} database runs on port {ports[0]}.",
            f"We moved the {env} database to port {ports[1]}.",
            f"After the network change the {env} Postgres listens on port {ports[2]}.",
        ],
        f"Which port do I connect to for the {env} database?",
    )
    for other, port in zip(others, ports[3:], strict=True):
        b.add(f"The {other} database runs on port {port}.")


def _hosting(b: _Builder) -> None:
    svc, *others = b.rng.sample(b.services, 3)
    hosts = b.rng.sample(PLATFORMS, 5)
    b.chain(
        [
            f"The {svc} service is deployed on {hosts[0]}.",
            f"We migrated {svc} from {hosts[0]} to {hosts[1]}.",
            f"{svc} now runs on {hosts[2]}; the old setup was shut down.",
        ],
        f"Where is {svc} hosted right now?",
    )
    for other, host in zip(others, hosts[3:], strict=True):
        b.add(f"The {other} service is deployed on {host}.")


def _release_manager(b: _Builder) -> None:
    p = b.rng.sample(b.people, 5)
    b.chain(
        [
            f"{p[0]} is the release manager for {b.name}.",
            f"{p[1]} took over release management from {p[0]}.",
            f"Release duty passed to {p[2]} this quarter.",
        ],
        "Who is the release manager at the moment?",
    )
    b.add(f"{p[3]} runs the incident reviews after outages.")
    b.add(f"{p[4]} proofreads the release notes before they are published.")


def _python_version(b: _Builder) -> None:
    svc, *others = b.rng.sample(b.services, 3)
    v = sorted(b.rng.sample(PYTHONS, 3), key=PYTHONS.index)
    b.chain(
        [
            f"{svc} is pinned to Python {v[0]}.",
            f"Upgraded {svc} to Python {v[1]}.",
            f"{svc} moved on to Python {v[2]} last sprint.",
        ],
        f"Which Python version does {svc} run on?",
    )
    for other in others:
        b.add(f"{other} is pinned to Python {b.rng.choice(PYTHONS)}.")


def _planning_day(b: _Builder) -> None:
    d = b.rng.sample(WEEKDAYS, 5)
    b.chain(
        [
            f"Our weekly planning call is on {d[0]} mornings.",
            f"The weekly planning call moved to {d[1]}.",
            f"Planning now happens on {d[2]} afternoons.",
        ],
        "On which day is the weekly planning call?",
    )
    b.add(f"The monthly retrospective is on the first {d[3]} of the month.")
    b.add(f"Design reviews take place on {d[4]}s after lunch.")


def _api_version(b: _Builder) -> None:
    svc, *others = b.rng.sample(b.services, 3)
    n = b.rng.randint(1, 3)
    b.chain(
        [
            f"Clients reach {svc} through /api/v{n}.",
            f"The public API of {svc} moved to /api/v{n + 1}; /api/v{n} is retired.",
            f"/api/v{n + 2} is now the only supported path for {svc}.",
        ],
        f"Which API version path should clients of {svc} call?",
    )
    for other in others:
        b.add(f"Clients reach {other} through /api/v{b.rng.randint(1, 4)}.")


def _target_branch(b: _Builder) -> None:
    br = b.rng.sample(BRANCHES, 3)
    b.chain(
        [
            f"Feature work is merged into the {br[0]} branch.",
            f"Pull requests now target {br[1]} instead of {br[0]}.",
            f"We switched the merge target again, to {br[2]}.",
        ],
        "Which branch should my pull requests target?",
    )
    b.add(f"Hotfixes are cut from the release/{b.rng.randint(3, 9)}.x branch.")
    b.add("Documentation-only changes may be pushed straight to the docs branch.")


def _pool_size(b: _Builder) -> None:
    svc, *others = b.rng.sample(b.services, 3)
    n = sorted(b.rng.sample(range(10, 200, 10), 3))
    b.chain(
        [
            f"The connection pool of {svc} is capped at {n[0]}.",
            f"Raised the {svc} connection pool limit to {n[1]}.",
            f"{svc} may now hold up to {n[2]} pooled connections.",
        ],
        f"How many database connections may {svc} open?",
    )
    for other in others:
        b.add(f"The connection pool of {other} is capped at {b.rng.randrange(10, 200, 5)}.")


def _log_retention(b: _Builder) -> None:
    days = b.rng.sample([7, 14, 21, 30, 45, 60, 90], 5)
    b.chain(
        [
            f"Logs are kept for {days[0]} days.",
            f"Log retention was changed to {days[1]} days to save storage.",
            f"Retention for logs is {days[2]} days from now on.",
        ],
        "How long are logs retained?",
    )
    b.add(f"Traces are kept for {days[3]} days in the tracing backend.")
    b.add(f"Database backups are kept for {days[4]} days.")


def _staging_url(b: _Builder) -> None:
    hosts = b.rng.sample(
        [f"staging.{b.domain}", f"stage.{b.domain}", f"preprod.{b.domain}", f"{b.slug}-staging.internal"], 3
    )
    b.chain(
        [
            f"The staging site is at https://{hosts[0]}.",
            f"Staging moved to https://{hosts[1]}.",
            f"The staging address changed once more, to https://{hosts[2]}.",
        ],
        "What is the address of the staging site?",
    )
    b.add(f"The production site is at https://www.{b.domain}.")
    b.add(f"The QA site is at https://qa.{b.domain}.")


CHAINS: tuple[Callable[[_Builder], None], ...] = (
    _db_port,
    _hosting,
    _release_manager,
    _python_version,
    _planning_day,
    _api_version,
    _target_branch,
    _pool_size,
    _log_retention,
    _staging_url,
)

# --- preferences: alternative statements (one is stored) and the indirect question ---

PREFERENCES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        (
            "I prefer tabs for indentation, never spaces.",
            "Indent with four spaces, please; no tabs anywhere.",
            "Two-space indentation everywhere, Python included.",
        ),
        "How should I indent the code I write for you?",
    ),
    (
        (
            "Use pnpm, never npm: the lockfile belongs to pnpm.",
            "Stick to yarn for JavaScript packages; npm breaks our lockfile.",
            "We install node modules with bun, not npm.",
        ),
        "Which package manager should I run for the frontend?",
    ),
    (
        (
            "Commit messages follow Conventional Commits (feat:, fix:, chore:).",
            "Write commit subjects in the imperative mood, under 50 characters, without prefixes.",
        ),
        "How do you want commit messages worded?",
    ),
    (
        (
            "Keep replies short: bullet points, no preamble.",
            "I like thorough answers that spell out the reasoning step by step.",
        ),
        "How long should your answers to me be?",
    ),
    (
        ("Python strings use double quotes.", "Use single quotes for Python string literals."),
        "Which quote character goes around string literals?",
    ),
    (
        (
            "Prefer raw SQL through psycopg over any ORM.",
            "Database access goes through the SQLAlchemy ORM, no hand-written SQL.",
        ),
        "How should new code talk to the database?",
    ),
    (
        (
            "User-facing text uses British spelling (colour, organise).",
            "Stick to American spelling in the UI (color, organize).",
        ),
        "Which English variant do the interface strings follow?",
    ),
    (("No emoji in docs, commit messages or code comments.",), "Can I decorate the README with a few pictograms?"),
    (
        (
            "Show me times in Central European Time.",
            "Report times to me in US Eastern time.",
            "Give me every time in UTC.",
        ),
        "Which zone should timestamps be converted to for me?",
    ),
    (
        ("Format Python with ruff format, not black.", "Run black on Python files; we do not use ruff's formatter."),
        "Which tool tidies up the layout of Python files?",
    ),
    (("Ask me before adding any new third-party dependency.",), "Is it fine to pull in a new library on my own?"),
    (
        (
            "Docstrings use the Google style with Args and Returns sections.",
            "Write docstrings in NumPy style.",
        ),
        "What layout should function documentation use?",
    ),
    (
        ("Run pytest -x and show me the output before claiming something works.",),
        "What must you do to prove a change is done?",
    ),
    (
        ("Name git branches as initials/topic-in-kebab-case.",),
        "What naming scheme do new branches follow?",
    ),
)

# --- setup facts asked in other words: fact template, question, the values a fact is filled from ---

SETUP_FACTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "The CI runners live in {v}.",
        "Which AWS region do our build machines run in?",
        ("eu-west-1", "us-east-2", "ap-southeast-1", "eu-central-1"),
    ),
    ("Secrets sit in {v} under kv/{slug}.", "Where are passwords and API keys kept?", ("Vault", "OpenBao")),
    (
        "Unhandled exceptions are reported to {v}.",
        "Where do I see crashes from production?",
        ("Sentry", "Rollbar", "Bugsnag"),
    ),
    (
        "Nightly dumps of the main database are written to the bucket {slug}-{v}.",
        "Where do the backups end up?",
        ("snapshots", "pgdumps", "nightly"),
    ),
    (
        "Paging goes through {v}; the schedule is called {slug}-primary.",
        "What wakes up the on-duty engineer at night?",
        ("PagerDuty", "Opsgenie", "incident.io"),
    ),
    (
        "Feature flags are served by {v}.",
        "What system switches functionality on and off for customers?",
        ("LaunchDarkly", "Unleash", "Flagsmith", "GrowthBook"),
    ),
    (
        "The docs site is generated by {v} from the docs folder.",
        "How is our documentation website produced?",
        ("MkDocs", "Docusaurus", "Sphinx"),
    ),
    (
        "The monorepo is built with {v}.",
        "What compiles everything in our single big repo?",
        ("Bazel", "Nx", "Turborepo", "Pants"),
    ),
    (
        "Every merge to main ships to staging automatically via {v}.",
        "What triggers a release to the pre-production environment?",
        ("GitHub Actions", "Argo CD", "Buildkite"),
    ),
    (
        "Request rates and latencies are charted in {v}.",
        "Where can I look at graphs of traffic?",
        ("Grafana", "Datadog", "Honeycomb"),
    ),
    (
        "DNS for {domain} is managed in {v}.",
        "Who hosts the name records of our web address?",
        ("Cloudflare", "Route 53", "Gandi"),
    ),
    (
        "Container images are pushed to {v}.",
        "Where do freshly built images get uploaded?",
        ("ghcr.io/{slug}", "harbor.{domain}", "ECR in eu-west-1"),
    ),
    (
        "Transactional mail is delivered by {v}.",
        "Which provider sends our password-reset emails?",
        ("Postmark", "SendGrid", "Amazon SES"),
    ),
    (
        "Services talk to each other over {v}.",
        "What message bus carries events between our backends?",
        ("RabbitMQ", "Kafka", "NATS", "Redis streams"),
    ),
    (
        "Local development runs in a devcontainer with {v}.",
        "How do I get a working environment on my laptop?",
        ("Docker Compose", "Podman"),
    ),
    (
        "Terraform state is stored in the bucket {slug}-tfstate on {v}.",
        "Where does our infrastructure-as-code tool keep its bookkeeping?",
        ("GCS", "S3"),
    ),
    (
        "Customer support tickets land in {v}.",
        "Where do users' help requests end up?",
        ("Zendesk", "Freshdesk", "Help Scout"),
    ),
    (
        "Reach the internal network from home through {v} at vpn.{domain}.",
        "How do I get onto company machines remotely?",
        ("WireGuard", "Tailscale", "OpenVPN"),
    ),
    (
        "Load tests are run with {v} against the perf environment.",
        "What do we use to stress the system with traffic?",
        ("k6", "Locust", "Gatling"),
    ),
)

# --- everyday notes that answer nothing ---

NOTES: tuple[str, ...] = (
    "Fixed a flaky test in {svc} that assumed the server ran in UTC.",
    "{svc} writes JSON logs to stdout and the collector ships them.",
    "{person} is on holiday for the last two weeks of {month}.",
    "The {svc} dashboard shows p95 latency per endpoint.",
    "Reviewed the {svc} README together with {person}.",
    "{svc} retries failed webhooks three times with backoff.",
    "The quarterly roadmap review is in {month}.",
    "{person} prefers to review pull requests in the afternoon.",
    "Renamed the {svc} environment variables to share one prefix.",
    "{svc} exposes a health check at /healthz.",
    "Load on {svc} peaks on Monday mornings.",
    "{person} wrote the migration guide for {svc}.",
    "Cache entries in {svc} expire after {n} minutes.",
    "We deprecated the CSV export in {svc}.",
    "Bumped the {svc} Docker base image to Debian bookworm.",
    "The {team} team demo is every other {day}.",
    "{svc} sends metrics under the prefix {slug}.{svc}.",
    "{person} asked for the {svc} error messages to be reworded.",
    "The {svc} test suite takes about {n} minutes on CI.",
    "Onboarding docs for new hires were updated by {person}.",
)
MONTHS = "January February March April May June July August September October November December".split()


def _preferences(b: _Builder) -> None:
    for statements, question in b.rng.sample(PREFERENCES, PREFERENCES_PER_PROJECT):
        b.ask("preference", question, b.add(b.rng.choice(statements)))


def _setup_facts(b: _Builder) -> None:
    chosen = b.rng.sample(SETUP_FACTS, SETUP_FACTS_PER_PROJECT)
    for i, (template, question, values) in enumerate(chosen):
        value = b.rng.choice(values).format(slug=b.slug, domain=b.domain)
        key = b.add(template.format(v=value, slug=b.slug, domain=b.domain))
        if i < PARAPHRASE_QUESTIONS:
            b.ask("paraphrase", question, key)


# the facts two-memory questions join, each said in several ways (as notes taken on different days are)
_OWNER = ("The {svc} service is owned by team {team}.", "Team {team} maintains {svc}.", "{svc} belongs to team {team}.")
_ONCALL = (
    "Team {team}'s on-call engineer this month is {person}.",
    "{person} carries the pager for team {team} this month.",
    "{person} is first responder for {team} incidents until the next rotation.",
)
_LEAD = (
    "{person} leads team {team}.",
    "Team {team} reports to {person}.",
    "{person} is the engineering manager of {team}.",
)
_CHANNEL = (
    "Team {team} answers questions in the {channel} Slack channel.",
    "Ask {team} things in {channel}.",
    "{team} watches {channel} for requests from other teams.",
)
_STORED_IN = (
    "{svc} keeps its data in the {db} database.",
    "{svc} writes to the {db} database.",
    "The tables of {svc} live in the {db} database.",
)
_ADMIN = (
    "{person} administers the {db} database.",
    "Schema changes to the {db} database go through {person}.",
    "{person} looks after the {db} database.",
)


def _two_memory(b: _Builder) -> None:
    """Entity facts for every service, team and database; questions join two of them."""
    owner = {svc: b.teams[i % len(b.teams)] for i, svc in enumerate(b.services)}
    people = iter(b.rng.sample(b.people, len(b.people)))
    facts: dict[str, dict[str, str]] = {"owner": {}, "oncall": {}, "lead": {}, "channel": {}, "db": {}, "admin": {}}
    pick = b.rng.choice
    for svc, team in owner.items():
        facts["owner"][svc] = b.add(pick(_OWNER).format(svc=svc, team=team))
    for team in b.teams:
        facts["oncall"][team] = b.add(pick(_ONCALL).format(team=team, person=next(people)))
        facts["lead"][team] = b.add(pick(_LEAD).format(team=team, person=next(people)))
        channel = f"#{team.lower()}-{pick(['help', 'support', 'questions'])}"
        facts["channel"][team] = b.add(pick(_CHANNEL).format(team=team, channel=channel))
    databases = b.rng.sample(DATABASES, 3)
    stored_in = {svc: pick(databases) for svc in b.services}
    for svc, db in stored_in.items():
        facts["db"][svc] = b.add(pick(_STORED_IN).format(svc=svc, db=db))
    for db in databases:
        facts["admin"][db] = b.add(pick(_ADMIN).format(db=db, person=pick(b.people)))
    joins: tuple[tuple[str, Callable[[str], str], Callable[[str], str]], ...] = (
        ("Who is on call for {svc}?", lambda s: facts["owner"][s], lambda s: facts["oncall"][owner[s]]),
        ("Who leads the team that owns {svc}?", lambda s: facts["owner"][s], lambda s: facts["lead"][owner[s]]),
        (
            "Which Slack channel do I use for problems with {svc}?",
            lambda s: facts["owner"][s],
            lambda s: facts["channel"][owner[s]],
        ),
        (
            "Who administers the database that {svc} writes to?",
            lambda s: facts["db"][s],
            lambda s: facts["admin"][stored_in[s]],
        ),
    )
    pairs = b.rng.sample([(j, svc) for j in range(len(joins)) for svc in b.services], TWO_MEMORY_QUESTIONS)
    for j, svc in pairs:
        question, first, second = joins[j]
        b.ask("two-memory", question.format(svc=svc), first(svc), second(svc))


def _notes(b: _Builder) -> None:
    texts: set[str] = set()
    while len(texts) < NOTES_PER_PROJECT:
        texts.add(
            b.rng.choice(NOTES).format(
                svc=b.rng.choice(b.services),
                person=b.rng.choice(b.people),
                month=b.rng.choice(MONTHS),
                n=b.rng.randint(2, 40),
                team=b.rng.choice(b.teams),
                day=b.rng.choice(WEEKDAYS),
                slug=b.slug,
            )
        )
    for text in sorted(texts):
        b.add(text)


def _project(name: str, rng: random.Random, seen: set[str]) -> Project:
    b = _Builder(rng, name, seen, rng.sample(SERVICES, 10), rng.sample(TEAMS, 6), rng.sample(PEOPLE, 14))
    for chain in rng.sample(CHAINS, CHAINS_PER_PROJECT):
        chain(b)
    _preferences(b)
    _setup_facts(b)
    _two_memory(b)
    _notes(b)
    # a week slot, then a time of day inside it; chains got distinct weeks, so their order holds
    times = [START + timedelta(weeks=week, days=rng.randrange(5), minutes=rng.randrange(600)) for _, week in b.texts]
    memories = sorted(
        (Memory(b.key_of(i), text, when) for i, ((text, _), when) in enumerate(zip(b.texts, times, strict=True))),
        key=lambda m: m.occurred_at,
    )
    return Project(name, f"agent-{b.slug}", tuple(memories), tuple(b.questions))


def build_projects(seed: int = DEFAULT_SEED) -> list[Project]:
    """Every project of the benchmark, deterministically from `seed`."""
    rng = random.Random(seed)
    seen: set[str] = set()
    return [_project(name, rng, seen) for name in PROJECT_NAMES]


def template_counts() -> dict[str, int]:
    """How many templates each part of the dataset is drawn from (published with the results)."""
    return {
        "updated": len(CHAINS),
        "preference": len(PREFERENCES),
        "paraphrase": len(SETUP_FACTS),
        "two-memory": JOIN_TEMPLATES,
        "notes": len(NOTES),
    }
