"""Settings of the optional retrieval stages (reranker, query decomposition): off by default, and a bad
value refuses to start, naming the variable and never echoing a key."""

from __future__ import annotations

import pytest

from novamem.config import RerankFormat, load_settings
from novamem.errors import ConfigError

RERANK_ON = {"NOVAMEM_RERANK_ENABLED": "1", "NOVAMEM_RERANK_ENDPOINT": "http://127.0.0.1:8080/rerank"}
DECOMP_ON = {
    "NOVAMEM_QUERY_DECOMP_ENABLED": "true",
    "NOVAMEM_QUERY_DECOMP_ENDPOINT": "http://127.0.0.1:4000/v1",
    "NOVAMEM_QUERY_DECOMP_MODEL": "qwen",
}


def test_stages_are_off_by_default() -> None:
    s = load_settings()
    assert not s.rerank_enabled and not s.query_decomp_enabled
    assert (s.rerank_format, s.rerank_pool_multiplier, s.rerank_timeout_ms) == (RerankFormat.COHERE, 4, 5000)
    assert (s.query_decomp_max_subqueries, s.query_decomp_timeout_ms) == (3, 8000)


def test_configured_stages_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**RERANK_ON, **DECOMP_ON, "NOVAMEM_RERANK_FORMAT": "tei"}.items():
        monkeypatch.setenv(name, value)
    s = load_settings()
    assert s.rerank_enabled and s.rerank_format is RerankFormat.TEI and s.rerank_model is None
    assert s.query_decomp_enabled and s.query_decomp_model == "qwen"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"NOVAMEM_RERANK_ENABLED": "1"}, "NOVAMEM_RERANK_ENABLED=1 needs NOVAMEM_RERANK_ENDPOINT"),
        (RERANK_ON, "NOVAMEM_RERANK_FORMAT=cohere needs NOVAMEM_RERANK_MODEL"),
        (
            {**RERANK_ON, "NOVAMEM_RERANK_FORMAT": "tei", "NOVAMEM_RERANK_ENDPOINT": "tei:8080"},
            "NOVAMEM_RERANK_ENDPOINT",
        ),
        ({"NOVAMEM_RERANK_ENDPOINT": "ftp://127.0.0.1/rerank"}, "NOVAMEM_RERANK_ENDPOINT must be an http"),
        ({"NOVAMEM_RERANK_ENDPOINT": "http://8.8.8.8/rerank"}, "NOVAMEM_RERANK_ENDPOINT uses plain HTTP"),
        ({"NOVAMEM_RERANK_TIMEOUT_MS": "0"}, "NOVAMEM_RERANK_TIMEOUT_MS"),
        ({"NOVAMEM_RERANK_TIMEOUT_MS": "soon"}, "NOVAMEM_RERANK_TIMEOUT_MS"),
        ({"NOVAMEM_RERANK_POOL_MULTIPLIER": "0"}, "NOVAMEM_RERANK_POOL_MULTIPLIER"),
        ({"NOVAMEM_RERANK_FORMAT": "openai"}, "NOVAMEM_RERANK_FORMAT"),
        ({"NOVAMEM_RERANK_ENABLED": "maybe"}, "NOVAMEM_RERANK_ENABLED"),
        ({"NOVAMEM_QUERY_DECOMP_ENABLED": "1"}, "NOVAMEM_QUERY_DECOMP_ENABLED=1 needs NOVAMEM_QUERY_DECOMP_ENDPOINT"),
        ({**DECOMP_ON, "NOVAMEM_QUERY_DECOMP_MODEL": ""}, "NOVAMEM_QUERY_DECOMP_MODEL"),
        ({**DECOMP_ON, "NOVAMEM_QUERY_DECOMP_ENDPOINT": "http://"}, "NOVAMEM_QUERY_DECOMP_ENDPOINT must be"),
        ({"NOVAMEM_QUERY_DECOMP_MAX_SUBQUERIES": "6"}, "NOVAMEM_QUERY_DECOMP_MAX_SUBQUERIES"),
        ({"NOVAMEM_QUERY_DECOMP_TIMEOUT_MS": "-1"}, "NOVAMEM_QUERY_DECOMP_TIMEOUT_MS"),
    ],
)
def test_bad_stage_settings_refuse_to_start(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert needle in caught.value.message


def test_a_refusal_never_shows_the_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVAMEM_RERANK_API_KEY", "rk-very-secret-0042")
    monkeypatch.setenv("NOVAMEM_QUERY_DECOMP_API_KEY", "qd-very-secret-0042")
    monkeypatch.setenv("NOVAMEM_RERANK_TIMEOUT_MS", "0")
    monkeypatch.setenv("NOVAMEM_QUERY_DECOMP_ENABLED", "1")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "very-secret" not in caught.value.message
    assert "very-secret" not in repr(caught.value)
