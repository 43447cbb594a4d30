"""The agent guide is the one source of what agents are told: the texts name only real tools, quote only numbers
the code uses, and the MCP edge publishes exactly them."""

from __future__ import annotations

import re

from novamem.config import AuthMode, load_settings
from novamem.domain.scope import Caller, TokenScope
from novamem.mcp.server import McpEdge
from novamem.search.presets import DEFAULT_WEIGHTS
from novamem.services.agents.guide import INSTRUCTIONS, REQUIRED_TOOLS, TOOL_DOCS, ToolGroup, exposed_tools

NAMES = {doc.name for doc in TOOL_DOCS}
TOOL_WORD = re.compile(r"\b(?:memory|project|admin)_[a-z_]+\b")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


def test_catalogue_has_the_reference_tools() -> None:
    assert len(TOOL_DOCS) == len(NAMES) == 28
    groups = {group: sum(doc.group is group for doc in TOOL_DOCS) for group in ToolGroup}
    assert groups == {ToolGroup.MEMORY: 14, ToolGroup.PROJECT: 7, ToolGroup.ADMIN: 7}
    assert set(REQUIRED_TOOLS) <= NAMES


def test_texts_name_only_real_tools() -> None:
    texts = [INSTRUCTIONS, *(doc.description for doc in TOOL_DOCS)]
    named = {word for text in texts for word in TOOL_WORD.findall(text)}
    # `project_*` / `admin_*` in the instructions stand for the groups
    assert named - NAMES <= {"project_", "admin_"}, named - NAMES


def test_only_weights_the_code_uses_are_quoted() -> None:
    defaults = DEFAULT_WEIGHTS.model_dump()
    search = next(doc for doc in TOOL_DOCS if doc.name == "memory_search").description
    quoted = dict(re.findall(r"(keyword|vector|graph|recency|entity|time) (\d+(?:\.\d+)?)", search))
    assert {k: float(v) for k, v in quoted.items()} == defaults
    # no other numbers (no score thresholds) anywhere else
    for doc in TOOL_DOCS:
        if doc.name == "memory_search":
            continue
        numbers = set(NUMBER.findall(doc.description)) - {"1", "3", "100", "24", "256"}
        assert not numbers, (doc.name, numbers)
    assert not NUMBER.findall(INSTRUCTIONS.replace("SHA-256", ""))
    assert "threshold" not in INSTRUCTIONS.lower()


def test_exposed_tools_follow_mode_and_role() -> None:
    memory = [doc.name for doc in TOOL_DOCS if doc.group is ToolGroup.MEMORY]
    user = Caller(tenant_id="default", user_id="u1")
    admin = Caller(tenant_id="default", user_id="u2", is_admin=True)
    read_only_admin = Caller(tenant_id="default", user_id="u2", is_admin=True, token_scope=TokenScope.READ_ONLY)
    assert exposed_tools(AuthMode.NONE, Caller.public()) == memory
    assert exposed_tools(AuthMode.BEARER, Caller.public()) == memory
    assert len(exposed_tools(AuthMode.USER, user)) == 21
    assert len(exposed_tools(AuthMode.USER, admin)) == 28
    assert len(exposed_tools(AuthMode.TENANT, read_only_admin)) == 21


def test_edge_publishes_the_guide() -> None:
    for mode in AuthMode:
        settings = load_settings(
            auth_mode=mode, cookie_secret="q8Zr3kLmN0pX7vB2cT9yW4eR6uI1oA5sDfG", auth_token="t" * 40
        )
        edge = McpEdge(settings)
        admin = Caller(tenant_id="default", user_id="u", is_admin=True) if mode.has_accounts else Caller.public()
        assert edge.tool_names == exposed_tools(mode, admin)
