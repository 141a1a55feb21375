"""The console's tables as SQLAlchemy 2.x models; the Alembic migrations create the same schema.

Secrets are stored only as digests (password hashes, session and API-token SHA-256); the one
secret stored in clear is a cluster's kubeconfig, which no endpoint ever returns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "Cluster",
    "ClusterObject",
    "GlobalRole",
    "Role",
    "RoleBinding",
    "Session",
    "User",
    "UtcDateTime",
]


class GlobalRole(StrEnum):
    admin = "admin"  # every cluster, user management, registering clusters
    user = "user"  # only what the role bindings grant


class Role(StrEnum):
    """Per-cluster role; each grants everything the ones before it grant."""

    viewer = "viewer"
    editor = "editor"
    admin = "admin"


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in UTC, aware on the way out from every database: PostgreSQL's timestamptz
    comes back aware, SQLite's text naive (it keeps no zone), so both are normalised here."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        return None if value is None else _utc(value)

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        return None if value is None else _utc(value)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Cluster(Base):
    __tablename__ = "clusters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kubeconfig: Mapped[str] = mapped_column(Text)
    context: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_sync_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    sync_state: Mapped[str] = mapped_column(String(16), default="idle")  # idle|running|...
    sync_step: Mapped[str | None] = mapped_column(String(128))  # what the running sync reads
    sync_progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    sync_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sync_finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sync_owner: Mapped[str | None] = mapped_column(String(255))  # the console running it


class RoleBinding(Base):
    __tablename__ = "role_bindings"
    __table_args__ = (UniqueConstraint("user_id", "cluster_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Session(Base):
    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    username: Mapped[str] = mapped_column(String(128))  # who, as given (failed logins too)
    action: Mapped[str] = mapped_column(String(64))
    cluster: Mapped[str | None] = mapped_column(String(128))
    object: Mapped[str | None] = mapped_column(String(512))
    diff: Mapped[str] = mapped_column(Text, default="")
    before_manifest: Mapped[str | None] = mapped_column(Text)  # JSON; None: did not exist
    after_manifest: Mapped[str | None] = mapped_column(Text)  # JSON; None: deleted
    reverted_by: Mapped[int | None] = mapped_column(Integer)  # id of the entry that undid it


class ClusterObject(Base):
    """One namespace, pod or NetworkPolicy as the last successful sync read it."""

    __tablename__ = "cluster_objects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str] = mapped_column(String(253), default="")
    name: Mapped[str] = mapped_column(String(253))
    manifest: Mapped[str] = mapped_column(Text)  # JSON
