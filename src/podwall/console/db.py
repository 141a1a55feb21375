"""The console's database: an engine from a URL, brought to the newest schema by Alembic.

SQLite by default (`~` in a sqlite URL is expanded and its directory created); any SQLAlchemy
URL works, so PostgreSQL needs only `--database postgresql://...` (plain `postgresql://` and
`postgres://` URLs use the psycopg 3 driver, a dependency of podwall).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

__all__ = [
    "DEFAULT_DATABASE",
    "HOME_ENV",
    "create_database_engine",
    "default_database_url",
    "migrate",
    "resolve_url",
    "scratch_database",
]

DEFAULT_DATABASE = "sqlite:///~/.podwall/console.db"
HOME_ENV = "PODWALL_HOME"  # the lab's home too: `podwall up` and `serve` share one database


def default_database_url() -> str:
    """SQLite in $PODWALL_HOME (else ~/.podwall): console.db."""
    home = os.environ.get(HOME_ENV)
    if not home:
        return DEFAULT_DATABASE
    return f"sqlite:///{Path(home).expanduser().absolute() / 'console.db'}"


MIGRATIONS = Path(__file__).parent / "migrations"


_POSTGRESQL_DRIVER = "postgresql+psycopg"
_POSTGRESQL_ALIASES = frozenset({"postgresql", "postgres"})  # no driver named: psycopg 3


def resolve_url(url: str) -> str:
    """A sqlite file URL with `~` expanded and its directory created; a PostgreSQL URL without
    a driver with psycopg 3's; other URLs unchanged."""
    parsed = make_url(url)
    if parsed.drivername in _POSTGRESQL_ALIASES:
        return parsed.set(drivername=_POSTGRESQL_DRIVER).render_as_string(hide_password=False)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    path = Path(parsed.database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def create_database_engine(url: str = DEFAULT_DATABASE) -> Engine:
    url = resolve_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextmanager
def scratch_database(server: str, prefix: str) -> Iterator[str]:
    """A new empty database on the PostgreSQL `server` (its role may create databases), as a
    URL, dropped afterwards even with connections still open: for tests and benchmarks."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(resolve_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:  # as a user gives it (`postgresql://`: the console picks psycopg itself)
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def migrate(engine: Engine, revision: str = "head") -> list[str]:
    """Upgrade the schema to `revision`; returns the tables present afterwards."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return sorted(inspect(engine).get_table_names())
