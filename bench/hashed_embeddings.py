"""A tiny OpenAI-compatible embeddings server for the scale benchmark: hashed bags of words, 384 dims.

Loading a million memories through the built-in MiniLM would take most of a day on two cores, and would
measure the model rather than the store. This server answers `POST /v1/embeddings` at once with
deterministic vectors: each lower-cased word adds +1 or -1 to one of 384 dimensions chosen by its hash, and
the vector is normalised. Texts sharing words get similar vectors, so the HNSW index sees a realistic,
clustered space rather than uniform noise. It binds to 127.0.0.1 and runs until it gets SIGINT or SIGTERM.

    .venv/bin/python -m bench.hashed_embeddings --port 8765
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

__all__ = ["DIM", "MODEL", "embed"]

DIM = 384
MODEL = "hashed-bow-384"
_WORD = re.compile(r"\w+")


def embed(text: str) -> list[float]:
    """The hashed bag-of-words vector of `text` (unit length; all zeros but one for a text without words)."""
    vec = [0.0] * DIM
    for word in _WORD.findall(text.lower()):
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        vec[h % DIM] += 1.0 if (h >> 32) & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vec))
    if norm == 0:
        vec[0], norm = 1.0, 1.0
    return [round(x / norm, 6) for x in vec]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle's algorithm meets the client's delayed
        # ACK and every keep-alive response waits about 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        texts = body.get("input")
        if self.path != "/v1/embeddings" or not isinstance(texts, list):
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        data = [{"object": "embedding", "index": i, "embedding": embed(str(t))} for i, t in enumerate(texts)]
        payload = json.dumps({"object": "list", "data": data, "model": body.get("model", MODEL)}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
