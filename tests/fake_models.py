"""A small local server speaking a reranker's `/rerank` and an OpenAI-compatible `/v1/chat/completions`,
standing in for remote models.

The reranker scores a document 0.9 when it contains `favourite` (case-insensitive), else 0.1 plus a
little for its position from the end, so the test can make it prefer what fusion ranks last. It answers
in the shape it was asked in: TEI (`texts` -> `[{index, score}]`) or Cohere/Jina (`documents` ->
`{results: [{index, relevance_score}]}`). `rerank_fault` switches to a failure; `chat_reply` is what the
chat model says; `chat_fault` breaks it the same way (also `500`, `no-choices` and `never-ends`: headers and
half a body, then silence). `chat_script` holds answers given one per request, in order, before
`chat_reply`; `chat_hold` (an Event) makes every chat answer wait until it is set, and `chat_arrived` is set
when a chat request comes in. Every request body and header is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# how each fault answers: (status, body bytes); "slow" sleeps past any test timeout instead
FAULTS = {
    "down": (503, b'{"error":"overloaded"}'),
    "not-json": (200, b"<html>gateway error</html>"),
    "wrong-length": (200, None),
    "nan": (200, None),
    "out-of-range": (200, None),
    "repeated": (200, None),
    "empty": (200, b'{"results": []}'),
    "slow": (200, None),
}
SLOW_S = 3.0


def _garbage(fault: str, count: int) -> bytes:
    if fault == "wrong-length":
        rows = [{"index": i % count, "relevance_score": 0.5} for i in range(count + 2)]
    elif fault == "nan":
        return b'{"results": [{"index": 0, "relevance_score": NaN}]}'
    elif fault == "out-of-range":
        rows = [{"index": count + 5, "relevance_score": 0.9}]
    else:  # repeated
        rows = [{"index": 0, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.8}]
    return json.dumps({"results": rows}).encode()


class FakeModelServer:
    """Reranker and chat model on one loopback port; `start()`/`stop()` around a test module."""

    def __init__(self) -> None:
        self.favourite = ""
        self.rerank_fault: str | None = None
        self.chat_reply = "[]"
        self.chat_fault: str | None = None
        self.chat_script: list[str] = []
        self.chat_hold: threading.Event | None = None
        self.chat_arrived = threading.Event()
        self._stopping = threading.Event()
        self.rerank_requests: list[dict[str, Any]] = []
        self.chat_requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server under test gave up waiting, as it should

            def _never_end(self) -> None:
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", "100000")
                    self.end_headers()
                    self.wfile.write(b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "[')
                    self.wfile.flush()
                    outer._stopping.wait(timeout=60)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server under test gave up waiting, as it should

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path == "/rerank":
                    outer.rerank_requests.append(body)
                    self._send(*outer._rerank(body))
                elif self.path == "/v1/chat/completions":
                    outer.chat_requests.append(body)
                    outer.chat_arrived.set()
                    hold = outer.chat_hold
                    if hold is not None:
                        hold.wait(timeout=30)
                    if outer.chat_fault == "never-ends":
                        self._never_end()
                        return
                    self._send(*outer._chat())
                else:
                    self._send(404, b"{}")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.rerank_url = f"{base}/rerank"
        self.chat_url = f"{base}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _rerank(self, body: dict[str, Any]) -> tuple[int, bytes]:
        tei = "texts" in body
        texts: list[str] = body["texts"] if tei else body["documents"]
        fault = self.rerank_fault
        if fault == "slow":
            time.sleep(SLOW_S)
        elif fault is not None:
            status, canned = FAULTS[fault]
            return status, canned if canned is not None else _garbage(fault, len(texts))
        scores = [
            (0.9 if self.favourite and self.favourite.lower() in t.lower() else 0.1) + 0.001 * i
            for i, t in enumerate(texts)
        ]
        order = sorted(range(len(texts)), key=lambda i: -scores[i])
        if tei:
            return 200, json.dumps([{"index": i, "score": scores[i]} for i in order]).encode()
        rows = [{"index": i, "relevance_score": scores[i]} for i in order[: body.get("top_n") or len(order)]]
        return 200, json.dumps({"results": rows, "model": body.get("model")}).encode()

    def _chat(self) -> tuple[int, bytes]:
        fault = self.chat_fault
        if fault == "slow":
            time.sleep(SLOW_S)
        elif fault == "down":
            return 503, b'{"error":"overloaded"}'
        elif fault == "not-json":
            return 200, b"<html>gateway error</html>"
        elif fault == "500":
            return 500, b'{"error":"internal"}'
        elif fault == "no-choices":
            return 200, b'{"choices": []}'
        reply = self.chat_script.pop(0) if self.chat_script else self.chat_reply
        message = {"role": "assistant", "content": reply}
        return 200, json.dumps({"choices": [{"index": 0, "message": message}]}).encode()

    def reset(self) -> None:
        """Healthy again, nothing recorded."""
        self.favourite, self.rerank_fault, self.chat_reply, self.chat_fault = "", None, "[]", None
        self.chat_script.clear()
        if self.chat_hold is not None:
            self.chat_hold.set()  # release any request still waiting
        self.chat_hold = None
        self.chat_arrived.clear()
        self.rerank_requests.clear()
        self.chat_requests.clear()
        self.headers.clear()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
