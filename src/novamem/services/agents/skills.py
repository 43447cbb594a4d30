"""The Agent Skills bundle and the slash commands, generated from the same texts the MCP server sends.

Every tool name and tool description comes from `guide.TOOL_DOCS`, the protocol is `guide.INSTRUCTIONS`
verbatim, argument tables come from the request models' field descriptions, the default weights and recency
half-life from the retrieval presets, and error meanings from the error tree: so the skills cannot drift from
what the server says. `scripts/gen_skills.py` writes `bundle_files()` into the repository (skills/, integrations/)
and a test fails on any difference; `novamem connect HOST --skills` installs `host_files(HOST)`.

Formats: SKILL.md files follow agentskills.io (YAML front matter `name`, `description`); Claude Code commands are
Markdown with `description`, `argument-hint` and `allowed-tools` front matter and `$ARGUMENTS`, the tools named
`mcp__<server>__<tool>`; Kilo Code commands are Markdown with `description` front matter, the tools named
`<server>__<tool>`. Pure: no files, no I/O.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticUndefined

from novamem import errors
from novamem.search.presets import DEFAULT_WEIGHTS, PRESETS
from novamem.services.agents.connect import SERVER_NAME, AgentHost
from novamem.services.agents.guide import INSTRUCTIONS, REQUIRED_TOOLS, TOOL_DOCS, ToolGroup, tool_doc
from novamem.services.memory.models import (
    ContextRequest,
    ForgetRequest,
    MemoryCreate,
    MemoryUpdate,
    RecapRequest,
    SearchRequest,
)

__all__ = [
    "CLAUDE_MD_BEGIN",
    "CLAUDE_MD_END",
    "SKILL_HOSTS",
    "Command",
    "bundle_files",
    "claude_md_fragment",
    "host_files",
]

GENERATED = "<!-- Generated from novamem's agent texts (novamem.services.agents.skills); do not edit by hand. -->"
CLAUDE_MD_BEGIN = "<!-- novamem:begin (written by `novamem connect claude-code --skills`; replaced on each run) -->"
CLAUDE_MD_END = "<!-- novamem:end -->"
# the hosts `novamem connect HOST --skills` installs skills or slash commands for
SKILL_HOSTS = frozenset({AgentHost.CLAUDE_CODE, AgentHost.KILO_CODE})


def _tool(name: str) -> str:
    """A tool name, checked against the catalogue (a renamed tool fails generation, never drifts)."""
    return tool_doc(name).name


def _front_matter(**fields: str) -> str:
    lines = [f"{key.replace('_', '-')}: {value}" for key, value in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _fields_table(model: type[BaseModel], *, only: tuple[str, ...] | None = None) -> str:
    """`| argument | default | meaning |` for the fields of a request model that carry a description."""
    rows = ["| argument | default | meaning |", "|---|---|---|"]
    for name, field in model.model_fields.items():
        if (only is not None and name not in only) or not field.description:
            continue
        default = field.default
        shown = "" if default is PydanticUndefined or default is None else f"`{json.dumps(default)}`"
        if field.is_required():
            shown = "required"
        rows.append(f"| `{field.alias or to_camel(name)}` | {shown} | {_cell(field.description)} |")
    return "\n".join(rows) + "\n"


def _weights_text() -> str:
    weights = DEFAULT_WEIGHTS.model_dump()
    return ", ".join(f"`{name}` {value:g}" for name, value in weights.items())


def _tool_line(name: str) -> str:
    return f"- `{_tool(name)}`: {tool_doc(name).description}"


def _tool_map() -> str:
    rows = ["| tool | kind | what it does |", "|---|---|---|"]
    for doc in TOOL_DOCS:
        kind = "read" if doc.read_only else ("destructive write" if doc.destructive else "write")
        required = " (required)" if doc.name in REQUIRED_TOOLS else ""
        rows.append(f"| `{doc.name}`{required} | {doc.group.value}, {kind} | {_cell(doc.description)} |")
    return "\n".join(rows) + "\n"


_ERROR_ADVICE: dict[type[errors.NovamemError], str] = {
    errors.InvalidInput: "fix the arguments named in `issues`, then call again",
    errors.NotFound: "the id or project is not visible to you: search again instead of guessing",
    errors.Conflict: "the stored state changed or already exists: read it again before retrying",
    errors.Unauthenticated: "the token is missing, revoked or expired: ask the user to reconnect",
    errors.Forbidden: "this token may not do that (read-only, project-confined or not an admin): do not retry",
    errors.RateLimited: "wait the `retryAfter` seconds, then retry once",
    errors.PayloadTooLarge: "split the content into smaller, self-contained memories",
    errors.Unavailable: (
        "the memory store could not answer: say memory is unavailable, never that nothing is stored; do not retry "
        "in a loop"
    ),
}


def _error_table() -> str:
    rows = ["| error | meaning | what to do |", "|---|---|---|"]
    for cls, advice in _ERROR_ADVICE.items():
        meaning = inspect.cleandoc(cls.__doc__ or "").split("\n", 1)[0]
        rows.append(f"| `{cls.__name__}` | {_cell(meaning)} | {advice} |")
    return "\n".join(rows) + "\n"


def _novamem_skill() -> str:
    capture, recap, update = _tool("memory_capture"), _tool("memory_session_recap"), _tool("memory_update")
    context, search, forget = _tool("memory_context"), _tool("memory_search"), _tool("memory_forget")
    half_life = PRESETS["hybrid"].recency_half_life_days
    provenance = ("source", "agent_name", "source_type", "captured_from", "confidence", "source_refs", "sensitivity")
    description = (
        "Long-term memory shared by every agent this user runs (the novamem MCP server). Use it before answering "
        "any substantive request, before asking the user to repeat anything, and after meaningful work to save "
        "decisions, preferences, setup facts, root causes and constraints."
    )
    return "\n".join(
        (
            _front_matter(name=SERVER_NAME, description=description),
            GENERATED,
            "",
            "# novamem long-term memory",
            "",
            "## Mandatory memory protocol",
            "",
            "The server sends these instructions to every MCP client; follow them exactly:",
            "",
            "```text",
            INSTRUCTIONS,
            "```",
            "",
            "## Tool map",
            "",
            _tool_map(),
            "## When to search",
            "",
            _tool_line("memory_context"),
            _tool_line("memory_search"),
            "",
            f"Call `{context}` first on every substantive request; call `{search}` before asking the user to repeat "
            "something. Details: [references/search.md](references/search.md).",
            "",
            "## When to save",
            "",
            _tool_line("memory_capture"),
            _tool_line("memory_session_recap"),
            _tool_line("memory_remember"),
            "",
            f"Save with `{capture}` after meaningful work and with `{recap}` at the end of a task. Details: "
            "[references/remember.md](references/remember.md).",
            "",
            "## When to update or forget",
            "",
            _tool_line("memory_update"),
            _tool_line("memory_forget"),
            "",
            f"A fact that changed is corrected with `{update}` (its id comes from a search hit), never saved a "
            f"second time; a wrong one is removed with `{forget}`.",
            "",
            "## Provenance",
            "",
            "Say where a memory comes from, so later readers can judge it:",
            "",
            _fields_table(MemoryCreate, only=provenance),
            "## Projects",
            "",
            "\n".join(_tool_line(doc.name) for doc in TOOL_DOCS if doc.group is ToolGroup.PROJECT),
            "",
            "Details: [references/projects.md](references/projects.md).",
            "",
            "## Decay and expiry",
            "",
            f"Recency is one signal of the fused score (default weight {DEFAULT_WEIGHTS.recency:g}, half-life "
            f"{half_life:g} days): old memories rank lower but are never hidden by age alone. Age counts from "
            "`occurredAt` (when the thing happened) when the memory has one, and a query that names a time "
            '("last year", "in May 2023") ranks memories from that time higher. A memory written '
            "with `expiresAt` is hidden after that time and purged by the next decay pass.",
            "",
            _tool_line("memory_hygiene"),
            "",
            "## Error meanings",
            "",
            "A failed tool call is an error result whose text starts with `error:` and carries the server's exact "
            "message. What each kind means:",
            "",
            _error_table(),
        )
    )


def _search_reference() -> str:
    return "\n".join(
        (
            GENERATED,
            "",
            "# Searching novamem",
            "",
            _tool_line("memory_context"),
            _tool_line("memory_search"),
            _tool_line("memory_recent"),
            _tool_line("memory_today"),
            _tool_line("memory_neighbors"),
            "",
            f"Default signal weights: {_weights_text()}. Pass `weights` with only the signals to change.",
            "",
            f"## `{_tool('memory_search')}` arguments",
            "",
            _fields_table(SearchRequest),
            f"## `{_tool('memory_context')}` arguments",
            "",
            f"`message` (required) is the user's request; `k` defaults to {ContextRequest.model_fields['k'].default}. "
            "The read-scope arguments are those of search:",
            "",
            _fields_table(ContextRequest),
        )
    )


def _remember_reference() -> str:
    recap_lists = [
        f"`{field.alias or to_camel(name)}`"
        for name, field in RecapRequest.model_fields.items()
        if getattr(field.annotation, "__origin__", None) is list
    ]
    return "\n".join(
        (
            GENERATED,
            "",
            "# Saving to novamem",
            "",
            _tool_line("memory_capture"),
            _tool_line("memory_remember"),
            _tool_line("memory_session_recap"),
            _tool_line("memory_update"),
            _tool_line("memory_forget"),
            "",
            f"## `{_tool('memory_capture')}` and `{_tool('memory_remember')}` arguments",
            "",
            _fields_table(MemoryCreate),
            f"## `{_tool('memory_session_recap')}` lists",
            "",
            "Each item of " + ", ".join(recap_lists) + " becomes its own memory.",
            "",
            f"## `{_tool('memory_forget')}` arguments",
            "",
            _fields_table(ForgetRequest),
            f"## `{_tool('memory_update')}` arguments",
            "",
            "`id` (required) and any of: "
            + ", ".join(f"`{f.alias or to_camel(n)}`" for n, f in MemoryUpdate.model_fields.items())
            + ".",
            "",
        )
    )


def _projects_reference() -> str:
    return "\n".join(
        (
            GENERATED,
            "",
            "# Projects in novamem",
            "",
            "\n".join(_tool_line(doc.name) for doc in TOOL_DOCS if doc.group is ToolGroup.PROJECT),
            "",
            "## Choosing where a read or write goes",
            "",
            _fields_table(SearchRequest, only=("project", "include_projects")),
        )
    )


def _session_recap_skill() -> str:
    recap = _tool("memory_session_recap")
    return "\n".join(
        (
            _front_matter(
                name="session-recap",
                description="Save a durable recap of the task just finished to novamem long-term memory, with "
                f"{recap}.",
            ),
            GENERATED,
            "",
            "# Session recap",
            "",
            _tool_line("memory_session_recap"),
            "",
            "Put each durable fact of the task in its list, one self-contained sentence per item:",
            "",
            "\n".join(
                f"- `{field.alias or to_camel(name)}`"
                for name, field in RecapRequest.model_fields.items()
                if getattr(field.annotation, "__origin__", None) is list
            ),
            "",
            "Leave out anything a future session would not need, and never secrets. Outcomes `rejected` and "
            "`deduplicated` are success.",
            "",
        )
    )


@dataclass(frozen=True, slots=True)
class Command:
    """One slash command: its name, what it does, its argument, the tools it calls and its prompt."""

    name: str
    description: str
    argument_hint: str
    tools: tuple[str, ...]
    prompt: Callable[[Callable[[str], str]], str]  # given the host's tool naming, the prompt text


COMMANDS: tuple[Command, ...] = (
    Command(
        "remember",
        "Save a durable fact to novamem long-term memory",
        "<the fact to remember>",
        ("memory_capture",),
        lambda t: (
            f"Call `{t('memory_capture')}` with `content` set to this fact, rewritten as one self-contained "
            f"sentence: $ARGUMENTS\n\nReport the outcome (saved, deduplicated or rejected) in one line."
        ),
    ),
    Command(
        "recall",
        "Search novamem long-term memory",
        "<what to look for>",
        ("memory_search",),
        lambda t: (
            f"Call `{t('memory_search')}` with `query` set to: $ARGUMENTS\n\nList the relevant hits with "
            "their ids, judging them by content, not by score."
        ),
    ),
    Command(
        "today",
        "Show the memories written in the last 24 hours",
        "",
        ("memory_today",),
        lambda t: f"Call `{t('memory_today')}` and summarise the memories it returns, newest first, with their ids.",
    ),
    Command(
        "forget",
        "Delete a memory from novamem long-term memory",
        "<memory id, or what to forget>",
        ("memory_search", "memory_forget"),
        lambda t: (
            f"If `$ARGUMENTS` is a memory id, call `{t('memory_forget')}` with `id` set to it. Otherwise call "
            f"`{t('memory_search')}` with `query` set to `$ARGUMENTS`, show the matches with their ids and ask "
            f"which to delete before calling `{t('memory_forget')}`. Deletion is permanent."
        ),
    ),
    Command(
        "projects",
        "List your novamem projects and the active one",
        "",
        ("project_list",),
        lambda t: f"Call `{t('project_list')}` and show each project with your role in it.",
    ),
    Command(
        "neighbors",
        "Show the memories linked to a memory",
        "<memory id>",
        ("memory_neighbors",),
        lambda t: f"Call `{t('memory_neighbors')}` with `id` set to $ARGUMENTS and summarise the linked memories.",
    ),
)
_CLAUDE_COMMANDS = ("remember", "recall", "today", "forget")


def _claude_tool(name: str) -> str:
    return f"mcp__{SERVER_NAME}__{_tool(name)}"


def _kilo_tool(name: str) -> str:
    return f"{SERVER_NAME}__{_tool(name)}"


def _claude_command(command: Command) -> str:
    fields = {"description": command.description}
    if command.argument_hint:
        fields["argument_hint"] = command.argument_hint
    fields["allowed_tools"] = ", ".join(_claude_tool(name) for name in command.tools)
    return _front_matter(**fields) + "\n" + command.prompt(_claude_tool) + "\n"


def _kilo_command(command: Command) -> str:
    fields = {"description": command.description}
    if command.argument_hint:
        fields["argument_hint"] = command.argument_hint
    return _front_matter(**fields) + "\n" + command.prompt(_kilo_tool) + "\n"


def claude_md_fragment() -> str:
    """The section `novamem connect claude-code --skills` keeps in CLAUDE.md, between its markers."""
    commands = ", ".join(f"`/{name}`" for name in _CLAUDE_COMMANDS)
    return "\n".join(
        (
            CLAUDE_MD_BEGIN,
            "## Long-term memory (novamem)",
            "",
            f"The `{SERVER_NAME}` MCP server is this user's long-term memory; its tools appear as "
            f"`{_claude_tool('memory_context')}` and so on. Follow its protocol:",
            "",
            INSTRUCTIONS,
            "",
            f"Slash commands: {commands}. The `novamem` skill has the details.",
            CLAUDE_MD_END,
            "",
        )
    )


def _kilo_rules() -> str:
    return "\n".join(
        (
            "# Long-term memory (novamem)",
            "",
            f"The `{SERVER_NAME}` MCP server is this user's long-term memory; its tools are named "
            f"`{_kilo_tool('memory_context')}` and so on. Follow its protocol:",
            "",
            INSTRUCTIONS,
            "",
            "Slash commands: " + ", ".join(f"`/{command.name}`" for command in COMMANDS) + ".",
            "",
        )
    )


def _skill_bundle() -> dict[str, str]:
    return {
        "novamem/SKILL.md": _novamem_skill(),
        "novamem/references/search.md": _search_reference(),
        "novamem/references/remember.md": _remember_reference(),
        "novamem/references/projects.md": _projects_reference(),
        "session-recap/SKILL.md": _session_recap_skill(),
    }


def host_files(host: AgentHost) -> dict[str, str]:
    """What `novamem connect HOST --skills` installs, by path relative to the host's folder (`~/.claude` for
    Claude Code, `.kilocode` in the project for Kilo Code); empty for hosts that take no skills or commands.
    Claude Code's CLAUDE.md section is separate: `claude_md_fragment()`."""
    if host is AgentHost.CLAUDE_CODE:
        by_name = {command.name: command for command in COMMANDS}
        files = {f"commands/{name}.md": _claude_command(by_name[name]) for name in _CLAUDE_COMMANDS}
        files.update({f"skills/{path}": text for path, text in _skill_bundle().items()})
        return files
    if host is AgentHost.KILO_CODE:
        files = {f"commands/{command.name}.md": _kilo_command(command) for command in COMMANDS}
        files["rules/novamem.md"] = _kilo_rules()
        return files
    return {}


def bundle_files() -> dict[str, str]:
    """Every committed generated file, by path relative to the repository root."""
    files = {f"skills/{path}": text for path, text in _skill_bundle().items()}
    claude = host_files(AgentHost.CLAUDE_CODE)
    files.update({f"integrations/claude-code/{p}": t for p, t in claude.items() if p.startswith("commands/")})
    files["integrations/claude-code/CLAUDE.md"] = claude_md_fragment()
    files.update({f"integrations/kilo-code/{p}": t for p, t in host_files(AgentHost.KILO_CODE).items()})
    return files
