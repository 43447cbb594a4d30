"""Query embeddings never wait behind a batch of document embeddings (issue 13, item 5).

Every check is on the order in which things finish, never on how long they took.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from novamem.embedding.base import BatchingQueue
from novamem.embedding.builtin import BuiltinEmbedder
from novamem.embedding.openai import OpenAICompatibleEmbedder

# only a fault in the code under test lets the held document request wait this long
HOLD_FALLBACK_S = 15.0


class GatedRun:
    """An embedding function whose first call is held until released; records every batch it gets."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(texts)
        self.started.set()
        await self.release.wait()
        await asyncio.sleep(0)  # a real embedder yields to the event loop while it works
        return [[float(len(t))] for t in texts]


async def test_an_urgent_text_runs_right_after_the_batch_in_flight() -> None:
    run = GatedRun()
    queue = BatchingQueue(run, max_batch=4)
    try:
        documents = asyncio.create_task(queue.embed([f"document {i}" for i in range(16)]))
        await run.started.wait()  # the first document batch is in flight
        query = asyncio.create_task(queue.embed(["the query"], urgent=True))
        await asyncio.sleep(0)  # the query is queued
        run.release.set()
        assert await query == [[9.0]]
        assert not documents.done()
        vectors = await documents
    finally:
        await queue.close()
    assert vectors == [[float(len(f"document {i}"))] for i in range(16)]
    assert [len(b) for b in run.batches] == [4, 1, 4, 4, 4]
    assert run.batches[1] == ["the query"]


async def test_urgent_texts_queued_together_share_one_batch() -> None:
    run = GatedRun()
    queue = BatchingQueue(run, max_batch=8, length_ratio=1.5)
    try:
        documents = asyncio.create_task(queue.embed(["d" * 40] * 24 + ["e" * 400] * 24))
        await run.started.wait()
        queries = [asyncio.create_task(queue.embed([f"query {i}"], urgent=True)) for i in range(3)]
        await asyncio.sleep(0)
        run.release.set()
        await asyncio.gather(*queries)
        assert not documents.done()
        await documents
    finally:
        await queue.close()
    assert run.batches[1] == ["query 0", "query 1", "query 2"]


async def test_the_builtin_model_embeds_a_query_before_a_large_document_batch_ends() -> None:
    builtin = BuiltinEmbedder(max_batch=8, threads=1)
    # a whole number of batches: without the query lane the query would be the last batch of all
    texts = [f"Stored fact number {i}: the deploy of service {i % 7} ran on host {i % 5}" for i in range(64)]
    try:
        documents = asyncio.create_task(builtin.embed_documents(texts))
        await asyncio.sleep(0)  # the documents are queued first
        vector = await builtin.embed_query("which host ran the deploy?")
        assert not documents.done()
        assert len(vector) == builtin.dim
        assert len(await documents) == len(texts)
    finally:
        await builtin.close()


class HoldingEmbeddingServer:
    """An `/embeddings` endpoint that holds the document request until a query request was answered."""

    def __init__(self) -> None:
        self.document_received = threading.Event()
        self.query_answered = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                texts: list[str] = body["input"]
                is_query = all(t.startswith("query: ") for t in texts)
                if not is_query:
                    outer.document_received.set()
                    outer.query_answered.wait(HOLD_FALLBACK_S)
                data = [{"index": i, "embedding": [1.0, 0.0, 0.0, float(len(t))]} for i, t in enumerate(texts)]
                payload = json.dumps({"data": data}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                if is_query:
                    outer.query_answered.set()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.query_answered.set()
        self._httpd.shutdown()
        self._httpd.server_close()


async def test_an_http_query_is_posted_while_a_document_batch_is_in_flight() -> None:
    server = HoldingEmbeddingServer()
    embedder = OpenAICompatibleEmbedder(
        endpoint=server.url,
        model="holding",
        dim=4,
        api_key=None,
        timeout_s=HOLD_FALLBACK_S * 2,
        query_prefix="query: ",
        document_prefix="passage: ",
        max_batch=32,
    )
    try:
        documents = asyncio.create_task(embedder.embed_documents([f"fact {i}" for i in range(40)]))
        assert await asyncio.to_thread(server.document_received.wait, HOLD_FALLBACK_S)
        vector = await embedder.embed_query("what?")
        assert not documents.done()
        assert len(vector) == 4
        assert len(await documents) == 40
    finally:
        await embedder.close()
        server.stop()
