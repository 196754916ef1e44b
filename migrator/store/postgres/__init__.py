"""The store on PostgreSQL (psycopg 3 and its pool; no ORM): ``PostgresStore``.

For any number of processes sharing one database: the same concerns, records and
contract as ``SqliteStore``, with the schema versioned in ``schema_versions``.
"""

from .store import PostgresStore

__all__ = ["PostgresStore"]
