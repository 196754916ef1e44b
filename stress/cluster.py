"""Several ``switchover serve`` replicas on one PostgreSQL, on this machine.

``make serve-cluster`` runs ``python stress/cluster.py``: it starts a private PostgreSQL 16
with pgvector from the ``pgserver`` wheel (in a temporary folder, deleted at the end),
or uses the one ``--database`` names, and three replicas on 127.0.0.1, each with a home
of its own (its snapshots) under ``--root``, all on that one database. Ctrl-C stops them.

The crash loop's ``--replicas`` mode and the rollback benchmark start the same cluster
through :class:`Cluster`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.pgserver import running_server
from tests.server import ServerProcess

MINILM = """[default_index]
name = "v1"
factory = "Flat"
metric = "ip"
"""


class Cluster:
    """``count`` replicas of one database, homes ``root/r1`` ... on the given ports."""

    def __init__(
        self,
        root: Path,
        database_url: str,
        count: int = 3,
        *,
        ports: Sequence[int] = (),
        toml: str = MINILM,
        token: str = "cluster-token",  # noqa: S107 - a local cluster's default token
    ) -> None:
        self.replicas: list[ServerProcess] = []
        for i in range(count):
            home = root / f"r{i + 1}"
            home.mkdir(parents=True, exist_ok=True)
            (home / "switchover.toml").write_text(toml, encoding="utf-8")
            port = ports[i] if i < len(ports) else None
            self.replicas.append(
                ServerProcess(home, token=token, port=port, database_url=database_url)
            )

    def start(self) -> Cluster:
        """Start them one after another (the first one leads)."""
        for server in self.replicas:
            server.start()
        return self

    def stop(self) -> None:
        for server in self.replicas:
            server.stop()

    def kill(self) -> None:
        for server in self.replicas:
            server.kill()


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """``url``, or else a private PostgreSQL's fresh database (with pgvector) for as long as
    the block runs."""
    if url is not None:
        yield url
        return
    with running_server(power_safe=True) as server, server.database(("vector",)) as fresh:
        yield fresh


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--base-port", type=int, default=8101, help="replica i listens on +i")
    parser.add_argument("--root", type=Path, default=Path(".switchover-cluster"))
    parser.add_argument("--database", help="a PostgreSQL 15+ with pgvector (default: private)")
    args = parser.parse_args(argv)
    if not 1 <= args.replicas <= 16:
        parser.error("--replicas must be between 1 and 16")
    token = os.environ.get("SWITCHOVER_OPERATOR_TOKEN", "cluster-token")
    ports = [args.base_port + i for i in range(args.replicas)]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with database(args.database) as url:
        cluster = Cluster(args.root, url, args.replicas, ports=ports, token=token)
        try:
            cluster.start()
            for server in cluster.replicas:
                print(f"replica {server.url}  home {server.home}  log {server.log_path}")
            print(f"operator token: {token}; Ctrl-C stops the cluster", flush=True)
            with suppress(KeyboardInterrupt):
                stop.wait()
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
