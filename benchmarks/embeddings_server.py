"""A tiny OpenAI-compatible ``POST /v1/embeddings`` server for a peer that embeds over HTTP.

It serves the benchmark's own MiniLM (``SentenceTransformer.encode``, normalised, batch 32) on
127.0.0.1, one encode at a time (the model uses every core already), and honours the
``dimensions`` field by truncating and re-normalising, as switchover's ``truncate_dim`` does.
It counts its own time: the seconds spent in ``encode`` and the seconds spent handling
requests, so its overhead (parsing, JSON, the socket) is reported apart from the model's.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


@dataclass
class Counters:
    requests: int = 0
    texts: int = 0
    encode_s: float = 0.0
    waiting_s: float = 0.0  # queued behind another request's encode (vecshift sends 4 at once)
    handling_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        overhead = self.handling_s - self.encode_s - self.waiting_s
        return {
            "requests": self.requests,
            "texts": self.texts,
            "encode_s": round(self.encode_s, 3),
            "waiting_s": round(self.waiting_s, 3),
            "handling_s": round(self.handling_s, 3),
            "overhead_s": round(overhead, 3),
            "overhead_per_text_ms": round(overhead * 1000 / self.texts, 3) if self.texts else None,
        }


def embed(model: Any, texts: list[str], dimensions: int | None) -> np.ndarray:
    rows = np.asarray(model.encode(texts, batch_size=32, normalize_embeddings=True))
    if dimensions:
        rows = rows[:, :dimensions]
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


class EmbeddingsServer:
    """``with EmbeddingsServer(model) as server: server.url`` (``http://127.0.0.1:<port>/v1``)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.counters = Counters()
        self.lock = threading.Lock()  # one encode at a time
        self.count_lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> EmbeddingsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        queued = time.perf_counter()
        with self.lock:
            started = time.perf_counter()
            rows = embed(self.model, texts, body.get("dimensions"))
            self.counters.waiting_s += started - queued
            self.counters.encode_s += time.perf_counter() - started
            self.counters.texts += len(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": r.tolist()} for i, r in enumerate(rows)
        ]
        return {"object": "list", "data": data, "model": body.get("model", "")}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                started = time.perf_counter()
                length = int(self.headers.get("Content-Length", 0))
                if self.path != "/v1/embeddings":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    body = json.loads(self.rfile.read(length))
                    payload, status = server.answer(body), 200
                except (ValueError, KeyError, TypeError) as exc:
                    payload, status = {"error": {"message": str(exc)}}, 400
                self._send(status, payload)
                handled = time.perf_counter() - started
                with server.count_lock:
                    server.counters.requests += 1
                    server.counters.handling_s += handled

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:  # quiet: the counters are the record
                return

        return Handler
