"""A small HTTP client for the CLI: the server stays the single writer."""

from __future__ import annotations

from typing import Any

import httpx

from client import ApiError, SwitchoverClient, TransportError
from client.calls import Call
from indexes.errors import (
    AuthError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StorageError,
    SwitchoverError,
)

_ERROR_BY_STATUS: dict[int, type[SwitchoverError]] = {
    401: AuthError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidInputError,
    422: InvalidInputError,
    503: StorageError,
}


class Client:
    """The CLI's calls, sent by the QA client's machinery (:class:`client.SwitchoverClient`:
    timeouts, retries that never repeat a write that may have landed); errors become the
    core's, so the CLI prints them in one line."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 120.0,
        http: httpx.Client | None = None,
    ) -> None:
        """``http`` injects a client (tests pass FastAPI's TestClient, an httpx.Client)."""
        self._api = SwitchoverClient(url, token=token, timeout=timeout, http=http)
        self.url = url

    def close(self) -> None:
        self._api.close()

    def request(self, method: str, path: str, body: Any = None) -> Any:
        return self.request_with_headers(method, path, body, None)

    def request_with_headers(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None
    ) -> Any:
        idempotent = method == "GET" or path in _READS
        call = Call(method, path, _as_is, body, dict(headers or {}), idempotent)
        try:
            return self._api.send(call)
        except TransportError as exc:
            raise SwitchoverError(f"cannot reach switchover at {self.url}: {exc}") from exc
        except ApiError as exc:
            cls = _ERROR_BY_STATUS.get(exc.status, SwitchoverError)
            raise cls(f"HTTP {exc.status}: {exc.message}") from exc

    def request_text(self, method: str, path: str) -> str:
        try:
            response = self._api.http.request(method, path)
        except httpx.HTTPError as exc:
            raise SwitchoverError(f"cannot reach switchover at {self.url}: {exc}") from exc
        if not response.is_success:
            raise SwitchoverError(f"HTTP {response.status_code}: {response.text[:200]}")
        return response.text

    def upsert(self, documents: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("PUT", "/v1/documents", {"documents": documents})
        return result

    def search(self, query: str, k: int, include_documents: bool = False) -> dict[str, Any]:
        body = {"query": query, "k": k, "include_documents": include_documents}
        result: dict[str, Any] = self.request("POST", "/v1/search", body)
        return result


_READS = frozenset({"/v1/search", "/v1/search/batch"})


def _as_is(data: Any) -> Any:
    return data
