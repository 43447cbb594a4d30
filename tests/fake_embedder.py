"""A small local server speaking the OpenAI embeddings API, standing in for a remote provider.

Vectors are hashed bags of words (deterministic, 64 dims), so similar texts get similar vectors.
`down = True` makes it answer 503, to test outages.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIM = 64


def embed(text: str) -> list[float]:
    vec = [0.0] * DIM
    for word in re.findall(r"\w+", text.lower()):
        h = int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "big")
        vec[h % DIM] += 1.0 if (h >> 8) & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


class FakeEmbeddingServer:
    def __init__(self) -> None:
        self.down = False
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.calls += 1
                if outer.down or self.path != "/v1/embeddings":
                    self.send_response(503)
                    self.end_headers()
                    return
                data = [{"index": i, "embedding": embed(t)} for i, t in enumerate(body["input"])]
                payload = json.dumps({"data": data, "model": body.get("model")}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def settings(self) -> dict[str, Any]:
        """The settings that make a server embed with this one (`load_settings(**fake.settings(), ...)`)."""
        return {
            "embeddings_provider": "openai-compatible",
            "embeddings_endpoint": self.url,
            "embeddings_model": "fake-hash",
            "embeddings_dim": DIM,
        }

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
