"""A real switchover server in a child process, for end-to-end tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def operator_header(token: str) -> dict[str, str]:
    """The header of an operator call made with ``token``."""
    return {"Authorization": f"Bearer {token}"}


class ServerProcess:
    """``switchover serve`` on a free loopback port; ``kill()`` sends SIGKILL.

    ``eval_data_roots``: the folders eval sets may be registered from, written to the
    home's ``switchover.toml`` (which must then not hold anything else).
    ``database_url``: ``--database`` (the store on that PostgreSQL; default SQLite in the home).
    """

    def __init__(
        self,
        home: Path,
        *,
        token: str = "e2e-token",  # noqa: S107 - a test token
        port: int | None = None,
        eval_data_roots: Sequence[Path] = (),
        database_url: str | None = None,
    ) -> None:
        self.home = home
        self.database_url = database_url
        self.token = token
        self.eval_data_roots = tuple(eval_data_roots)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home.parent / f"{home.name}-server.log"

    @property
    def operator_header(self) -> dict[str, str]:
        """The header of an operator call to this server."""
        return operator_header(self.token)

    def start(self, timeout: float = 300.0) -> ServerProcess:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "SWITCHOVER_OPERATOR_TOKEN": self.token}
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_eval_data_roots()
        log = self.log_path.open("ab")
        database = [] if self.database_url is None else ["--database", self.database_url]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "serve",
                "--home",
                str(self.home),
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                *database,
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become healthy:\n{self.log_path.read_text()[-3000:]}")

    def _write_eval_data_roots(self) -> None:
        if not self.eval_data_roots:
            return
        roots = ", ".join(json.dumps(str(r.resolve())) for r in self.eval_data_roots)
        wanted = f"[server]\neval_data_roots = [{roots}]\n"
        config = self.home / "switchover.toml"
        if config.exists() and config.read_text(encoding="utf-8") != wanted:
            raise ValueError(f"{config} exists; put eval_data_roots in it instead")
        config.write_text(wanted, encoding="utf-8")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no final snapshot."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM: a graceful shutdown (final snapshot)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
