"""What agents are told: the MCP server instructions and every tool's description, in one place.

The MCP edge publishes these texts, `scripts/gen_docs.py` renders them into docs/generated/mcp-tools.md, and the
adoption report hashes the same instructions, so the three can never drift apart. Numbers quoted to agents (the
default signal weights) are read from the code that uses them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from novamem.config import AuthMode
from novamem.domain.scope import Caller
from novamem.search.presets import DEFAULT_WEIGHTS

__all__ = [
    "INSTRUCTIONS",
    "INSTRUCTIONS_HASH",
    "REQUIRED_TOOLS",
    "TOOL_DOCS",
    "ToolDoc",
    "ToolGroup",
    "exposed_tools",
    "tool_doc",
]


class ToolGroup(StrEnum):
    MEMORY = "memory"
    PROJECT = "project"  # only where accounts exist (auth mode user or tenant)
    ADMIN = "admin"  # only where accounts exist; admins only


@dataclass(frozen=True, slots=True)
class ToolDoc:
    name: str
    group: ToolGroup
    description: str
    read_only: bool
    destructive: bool = False
    idempotent: bool = True


def _weights() -> str:
    w = DEFAULT_WEIGHTS
    return (
        f"keyword {w.keyword:g}, vector {w.vector:g}, graph {w.graph:g}, recency {w.recency:g},"
        f" entity {w.entity:g}, time {w.time:g}"
    )


# What the tools that return memories say about them, in one text each so the tools cannot disagree. True of
# the code: a result's `tier` (services/memory/recall.py `render`); only search hits and context's relevant
# hits count as use and may promote (`RecallService._bump`); reads return only active rows, so superseded
# versions never come back (storage scoping `visible_filter`); a capture that supersedes lists the replaced ids
# in `metadata.supersedes`; derived facts carry `metadata.fact` and `metadata.source_chunk_id`, take their
# source's status, and are deleted with it or when its content changes (migration 0017, docs/lifecycle.md).
_TIER = (
    "Each result has `tier`: `warm`, or `cold` when unused for longer than its lifespan; cold memories are still "
    "searchable."
)
_SEARCH_USE = (
    "A hit counts as a use and can bring a cold memory back to warm (the answer shows the tier it had when asked)."
)
_CONTEXT_USE = "Its relevant memories count as a use and can bring a cold one back to warm; the recent ones do not."
_LIST_USE = "Being listed here is not a use: it never brings a cold memory back to warm."
_VERSIONS = (
    "Superseded versions (a memory memory_capture replaced, a derived fact the dream cycle found outdated) are "
    "never returned; a capture that replaced one lists it in `metadata.supersedes`."
)
_FACTS = (
    "With LLM fact extraction on, results may include derived facts: their `metadata.fact` is the typed fact and "
    "`metadata.source_chunk_id` the memory it came from; they are hidden while that memory is superseded and "
    "deleted when it is forgotten or its content changes (then its new text is extracted)."
)


def _returns(use: str) -> str:
    """What a tool that returns memories says about tiers, superseded versions and derived facts."""
    return f" {_TIER} {use} {_VERSIONS} {_FACTS}"


def _read(name: str, group: ToolGroup, description: str) -> ToolDoc:
    return ToolDoc(name, group, description, read_only=True)


def _write(name: str, group: ToolGroup, description: str, *, destructive: bool = False, idempotent: bool) -> ToolDoc:
    return ToolDoc(name, group, description, read_only=False, destructive=destructive, idempotent=idempotent)


M, P, A = ToolGroup.MEMORY, ToolGroup.PROJECT, ToolGroup.ADMIN

TOOL_DOCS: tuple[ToolDoc, ...] = (
    _read(
        "memory_context",
        M,
        "CALL THIS FIRST, before any substantive answer (technical work, planning, troubleshooting, preferences, "
        "project work). Pass the user's request as `message`. Returns the memories relevant to it, the most recent "
        "ones, a context pack grouped by kind (decisions, setup facts, root causes, preferences, conventions, "
        "pitfalls) and guidance on using them. Answer from the context pack first." + _returns(_CONTEXT_USE),
    ),
    _read(
        "memory_search",
        M,
        "Hybrid search over your memories: keyword (BM25), vector similarity, recency and entity overlap, fused "
        f"into one score. Search before asking the user to repeat anything. Default weights: {_weights()}; pass "
        "`weights` to override some of them. Judge results by their content: scores rank results within one answer "
        "and are not comparable across queries or embedding models." + _returns(_SEARCH_USE),
    ),
    _write(
        "memory_capture",
        M,
        "CALL THIS after meaningful work to keep what a future session needs: a decision and its reason, a "
        "preference, a setup fact, a root cause, a constraint or an invariant. One self-contained fact per call. "
        "A near-duplicate of a stored memory updates or supersedes it instead of repeating it, and text not worth "
        "keeping is rejected: both outcomes are success, not errors. Never save secrets (passwords, tokens, keys); "
        "set `sensitivity` for private material.",
        idempotent=False,
    ),
    _write(
        "memory_session_recap",
        M,
        "At the end of a task, save a durable recap. Put each item in its typed list (decisions, setupFacts, "
        "rootCauses, preferences, projectConventions, safetyConstraints, other); every item becomes its own memory "
        "through the same near-duplicate guard as memory_capture. Answers how many were saved and each outcome.",
        idempotent=False,
    ),
    _write(
        "memory_remember",
        M,
        "Store one text exactly as given (worthiness gate, length cap and exact-duplicate check only); with "
        "`split: true` a text over the length cap is stored as pieces sharing one `sourceRef`. Memories of one "
        "session or document stored in order with the same `sourceRefs` entry are found next to each other by "
        "search. Prefer memory_capture, which also merges near-duplicates.",
        idempotent=False,
    ),
    _write(
        "memory_update",
        M,
        "Change a memory whose `id` you know, in place: correct its content, move it to another namespace, or "
        "replace its metadata. Use this instead of storing a corrected copy.",
        destructive=True,
        idempotent=True,
    ),
    _write(
        "memory_forget",
        M,
        "Delete a memory by `id`, or every memory carrying a `sourceRef` (give exactly one of the two); with "
        "`namespace`, only from that namespace (a memory also stored under others stays there). Deletion "
        "is permanent; forgetting an id that is already gone is not an error.",
        destructive=True,
        idempotent=True,
    ),
    _read(
        "memory_recent",
        M,
        "Your newest memories first, optionally only those written since a time." + _returns(_LIST_USE),
    ),
    _read("memory_today", M, "The memories written in the last 24 hours, newest first." + _returns(_LIST_USE)),
    _read(
        "memory_neighbors",
        M,
        "Memories linked to a seed memory `id` through shared entities and relations, up to `depth` (1-3) hops."
        + _returns(_LIST_USE),
    ),
    _read("memory_stats", M, "Warm and cold memory counts per namespace, the last decay run and the server's uptime."),
    _read(
        "memory_hygiene",
        M,
        "A read-only curation report over your most recently updated memories: low-value entries, current-state "
        "facts worth reviewing, near-duplicate pairs, possible contradictions and entries still waiting for their "
        "embedding. Review the candidates with the user; change them with memory_update or memory_forget.",
    ),
    _read(
        "memory_evaluate",
        M,
        "Run the server's built-in self-checks (suite `core`) on synthetic examples, never on your data, and "
        "include your hygiene summary. Use it when memory seems to misbehave.",
    ),
    _read(
        "memory_adoption",
        M,
        "Check whether this client sees the server's current tools and instructions. Pass `client`, the tool "
        "names you see (`observedTools`) and the SHA-256 of the instructions you received; the answer says what "
        "is stale and how to refresh it.",
    ),
    _read("project_list", P, "The projects you belong to, with your role in each."),
    _write(
        "project_create",
        P,
        "Create a project (a memory space shared with its members); you become its owner.",
        idempotent=False,
    ),
    _write(
        "project_delete",
        P,
        "Delete a project and every memory in it (owner only). Permanent.",
        destructive=True,
        idempotent=True,
    ),
    _write(
        "project_activate",
        P,
        "Make a project the default of your reads and writes, on every client you use, until you deactivate it.",
        idempotent=True,
    ),
    _write(
        "project_deactivate",
        P,
        "Reads and writes go back to defaulting to your own memories.",
        idempotent=True,
    ),
    _write(
        "project_share",
        P,
        "Add a member to a project you own, by their exact email address.",
        idempotent=False,
    ),
    _write(
        "project_unshare",
        P,
        "Remove a member (by exact email address) from a project you own, or leave a project yourself.",
        destructive=True,
        idempotent=True,
    ),
    _read(
        "admin_list_users",
        A,
        "Admins only: every account of your tenant with its role, entry count and token count.",
    ),
    _read(
        "admin_list_projects",
        A,
        "Admins only: every project of your tenant with its owner, member count and entry count.",
    ),
    _read(
        "admin_list_tokens",
        A,
        "Admins only: API token metadata of your tenant (owner, label, scope, confinement, last use, expiry); "
        "never the secrets.",
    ),
    _read(
        "admin_health",
        A,
        "Admins only: the state of each dependency (database, vector search, graph, embedder), the embedding "
        "backlog and the fact-extraction backlog (`pendingExtractions`, null when LLM fact extraction is off).",
    ),
    _read(
        "admin_stats",
        A,
        "Admins only: deployment-wide counters, gauges, rates and uptime, summed over every replica, plus this "
        "replica's process figures.",
    ),
    _read("admin_audit_recent", A, "Admins only: the newest audit log entries of your tenant (`limit`, default 100)."),
    _read(
        "admin_ops_status",
        A,
        "Admins only: when each periodic job (decay, orphan reaper, embedding reconciler, dream cycle) last "
        "completed; null until it has completed once.",
    ),
)

_BY_NAME = {doc.name: doc for doc in TOOL_DOCS}

REQUIRED_TOOLS: tuple[str, ...] = (
    "memory_context",
    "memory_capture",
    "memory_session_recap",
    "memory_search",
    "memory_update",
    "memory_hygiene",
    "memory_evaluate",
    "memory_adoption",
)


def tool_doc(name: str) -> ToolDoc:
    return _BY_NAME[name]


def exposed_tools(mode: AuthMode, caller: Caller) -> list[str]:
    """The tool names this caller's MCP client sees, in catalogue order: project and admin tools exist only where
    accounts do, and admin tools are listed only to admins holding a session or a full, unconfined token."""
    admin = caller.is_admin and not caller.is_restricted
    return [
        doc.name
        for doc in TOOL_DOCS
        if doc.group is ToolGroup.MEMORY
        or (mode.has_accounts and (doc.group is ToolGroup.PROJECT or (doc.group is ToolGroup.ADMIN and admin)))
    ]


def _instructions() -> str:
    return "\n".join(
        (
            "NovaMem long-term memory: facts, decisions and preferences shared by every agent this user runs.",
            "",
            "1. Call memory_context with the user's request before any substantive answer (technical work, "
            "planning, troubleshooting, preferences, project work). Answer from its contextPack first.",
            "2. Before asking the user to repeat something, call memory_search for it.",
            "3. After meaningful work, call memory_capture for each durable fact: decisions and their reasons, "
            "preferences, setup facts, root causes, constraints and invariants. One self-contained fact per call. "
            "At the end of a task, memory_session_recap saves a typed summary in one call. Prefer memory_capture "
            "over memory_remember.",
            "4. A capture that answers `rejected` (not worth keeping) or `deduplicated` (already known) succeeded; "
            "do not retry it.",
            "5. Never save secrets (passwords, API keys, tokens). Set `sensitivity` for private material.",
            "6. When a stored fact changes and you know its id, call memory_update instead of saving a second copy; "
            "memory_forget removes a wrong one.",
            "7. Judge hits by their content, not their score: scores only rank the results of one query. For an "
            "exact identifier, error message or name, pass `weights` that raise keyword above its default; for a "
            "paraphrase, raise vector (memory_search lists the defaults).",
            "8. Projects are memory spaces shared with teammates. Reads and writes default to your active project "
            "(project_activate / project_deactivate); pass `project` to choose another one, `includeProjects` to "
            "read from several.",
            "",
            "Tools: context and search (memory_context, memory_search, memory_recent, memory_today, "
            "memory_neighbors); writes (memory_capture, memory_session_recap, memory_remember, memory_update, "
            "memory_forget); upkeep (memory_stats, memory_hygiene, memory_evaluate, memory_adoption); projects "
            "(project_*); administration (admin_*, admins only).",
        )
    )


INSTRUCTIONS = _instructions()
INSTRUCTIONS_HASH = hashlib.sha256(INSTRUCTIONS.encode()).hexdigest()
