"""A chat model behind an OpenAI-compatible `/chat/completions` endpoint, for short deterministic prompts."""

from __future__ import annotations

from typing import Any

import httpx

from novamem.errors import Unavailable

__all__ = ["ChatModel"]


class ChatModel:
    """Posts one system + user prompt to `<endpoint>/chat/completions` and returns the reply's text."""

    def __init__(self, *, endpoint: str, model: str, api_key: str | None, timeout_s: float) -> None:
        self._url = endpoint.rstrip("/") + "/chat/completions"
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=timeout_s, headers=headers)

    async def reply(self, system: str, user: str, *, max_tokens: int) -> str:
        """The first choice's message text (temperature 0).

        Raises Unavailable when the endpoint cannot be reached, refuses, or answers without a text.
        """
        payload: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": 0,
            "max_tokens": max_tokens,
        }
        try:
            response = await self._client.post(self._url, json=payload)
        except httpx.HTTPError as exc:
            raise Unavailable("chat model unreachable") from exc
        if response.status_code >= 400:
            raise Unavailable(f"chat model answered {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise Unavailable("chat model answered an unreadable body") from exc
        if not isinstance(content, str):
            raise Unavailable("chat model answered without a text")
        return content

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
