"""The tests' own PostgreSQL (``tests/pgserver.py``): real, private, one database per test."""

from __future__ import annotations

import psycopg

from tests.pgserver import PgServer


def test_each_test_gets_an_empty_database_of_its_own(pg_url: str, pg_server: PgServer) -> None:
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        (name,) = conn.execute("SELECT current_database()").fetchone() or ("",)
    assert name.startswith("test_")
    assert pg_url == pg_server.url(name)


def test_a_database_is_dropped_after_use_and_can_have_pgvector(pg_server: PgServer) -> None:
    with pg_server.database(extensions=("vector",)) as url, psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, v vector(3))")
        conn.execute("CREATE INDEX ON items USING hnsw (v vector_ip_ops)")
        conn.execute("INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]')")
        nearest = conn.execute("SELECT id FROM items ORDER BY v <#> '[0.9,0.1,0]' LIMIT 1")
        assert nearest.fetchone() == (1,)
        name = url.split("/")[-1].split("?")[0]
    with psycopg.connect(pg_server.admin_url) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    assert found is None
