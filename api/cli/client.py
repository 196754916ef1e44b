"""A small HTTP client for the CLI: the server stays the single writer."""

from __future__ import annotations

from typing import Any

import httpx

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
    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 120.0,
        http: httpx.Client | None = None,
    ) -> None:
        """``http`` injects a client (tests pass FastAPI's TestClient, an httpx.Client)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if http is None:
            http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        http.headers.update(headers)
        self._http = http
        self.url = url

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, body: Any = None) -> Any:
        return self.request_with_headers(method, path, body, None)

    def request_with_headers(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None
    ) -> Any:
        try:
            response = self._http.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SwitchoverError(f"cannot reach switchover at {self.url}: {exc}") from exc
        if response.is_success:
            return response.json()
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        cls = _ERROR_BY_STATUS.get(response.status_code, SwitchoverError)
        raise cls(f"HTTP {response.status_code}: {message}")

    def request_text(self, method: str, path: str) -> str:
        try:
            response = self._http.request(method, path)
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
