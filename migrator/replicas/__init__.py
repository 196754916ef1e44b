"""Several ``switchover serve`` processes on one PostgreSQL: ``Replication`` and its parts."""

from .link import LeaderLock, Notice, Notices, ReplicaLink
from .replication import Replication

__all__ = ["LeaderLock", "Notice", "Notices", "ReplicaLink", "Replication"]
