"""Live PostgreSQL facts: a read-only session to the database (or its DR replica) and what it reports.

Sessions start with ``default_transaction_read_only=on`` and a ``statement_timeout``, and connect with a
``connect_timeout``; TLS is whatever the DSN asks for (``sslmode``). The DSN itself never leaves this
module: errors and evidence name only host, port and database. Every query is made once per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..aws import record_action
from ..errors import Unobservable

# psycopg is imported by the functions that parse or open a DSN: runs without a database DSN, `pytest
# --help` and collection never load libpq (tests/test_startup.py pins it).
if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_SECONDS = 10
STATEMENT_TIMEOUT_MS = 15_000

# Query parameters of a URL DSN that libpq does not know (Spacelift's DATABASE_URL carries pgx ones such
# as statement_cache_capacity) are dropped rather than failing the connection. ``replication`` is dropped
# too: the suite opens ordinary sessions only.
@cache
def _libpq_keywords() -> frozenset[str]:
    from psycopg import pq

    return frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults()) - {"replication"}


AMBIGUOUS_USERINFO = ("the DSN URL has an '@', '/', '?' or '#' in its user or password that is not "
                      "percent-encoded (write '@' as %40): where the password ends cannot be told, so the DSN is "
                      "not used")


def userinfo_is_ambiguous(dsn: str) -> bool:
    """A URL DSN whose user or password holds an unencoded ``@`` (or a ``/``, ``?``, ``#`` before its ``@``):
    libpq ends the password at the first ``@``, Python's URL parser at the last, so part of the password
    would become the host (and reach messages and evidence)."""
    if "://" not in dsn:
        return False
    rest = dsn.split("://", 1)[1]
    at = rest.find("@")
    if at < 0:
        return False
    return rest.count("@") > 1 or any(ch in rest[:at] for ch in "/?#")


def libpq_dsn(dsn: str) -> tuple[str, list[str]]:
    """The DSN with query parameters libpq does not know removed, and the names removed. Raises
    Unobservable (naming no part of the DSN) when its user or password is ambiguous."""
    dsn = dsn.strip()
    if "://" not in dsn:
        return dsn, []
    if userinfo_is_ambiguous(dsn):
        raise Unobservable("postgres:connect", "the configured DSN", AMBIGUOUS_USERINFO)
    parts = urlsplit(dsn)
    query = parse_qsl(parts.query, keep_blank_values=True)
    known = _libpq_keywords()
    kept = [(k, v) for k, v in query if k in known]
    dropped = sorted({k for k, _ in query if k not in known})
    # Percent-encoding (%20), not form encoding: libpq reads '+' as a plus sign, so a space in
    # options=-c%20search_path%3Dpublic must stay %20.
    return urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote))), dropped


@dataclass(frozen=True)
class Target:
    """Where a DSN points: what evidence and messages may show (never user or password)."""

    host: str
    port: str
    dbname: str
    sslmode: str | None

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"

    def summary(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "dbname": self.dbname, "sslmode": self.sslmode or "libpq default"}


def target_of(dsn: str) -> Target:
    """Host, port and database of a DSN; a DSN libpq cannot parse is unobservable (without echoing it)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    cleaned, _ = libpq_dsn(dsn)
    try:
        params = conninfo_to_dict(cleaned)
    except psycopg.Error:
        raise Unobservable("postgres:connect", "the configured DSN",
                           "the DSN is not a valid libpq connection string (URL or key=value)") from None
    # libpq's default database is the user's name: shown as such, never as the name itself.
    return Target(host=str(params.get("host") or "localhost"), port=str(params.get("port") or "5432"),
                  dbname=str(params.get("dbname") or "(the user's default database)"),
                  sslmode=str(params["sslmode"]) if params.get("sslmode") else None)


def _password(dsn: str) -> str | None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        value = conninfo_to_dict(libpq_dsn(dsn)[0]).get("password")
    except (psycopg.Error, Unobservable):
        return None
    return str(value) if value else None


def connection_failure(error: Exception, password: str | None) -> str:
    """libpq's reason, first line, in words an SRE recognises; the password (if echoed) masked."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if password:
        text = text.replace(password, "***")
    lowered = text.lower()
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return f"authentication failed: wrong user or password ({text})"
    if "timeout expired" in lowered or "timed out" in lowered:
        return f"connection timed out after {CONNECT_TIMEOUT_SECONDS}s ({text})"
    if "connection refused" in lowered or "could not translate host name" in lowered:
        return f"unreachable ({text})"
    return text


def rejects_startup_options(message: str) -> bool:
    """A pooler's refusal of the ``options`` startup parameter (RDS Proxy, PgBouncer), not a server error."""
    lowered = message.lower()
    return ("unsupported startup parameter" in lowered and "options" in lowered) or (
        "doesn't support command-line options" in lowered)


@dataclass(frozen=True)
class ReplicaStatus:
    """What a standby says about itself."""

    in_recovery: bool
    seconds_since_last_replay: float | None  # now() - pg_last_xact_replay_timestamp()
    replayed_all_received: bool | None  # pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
    receiver_status: str | None  # pg_stat_wal_receiver.status (streaming, …)
    replay_paused: bool | None

    @property
    def lag_seconds(self) -> float | None:
        """How far behind the primary the replica is, or None when it cannot tell.

        A standby that streams and has replayed all it received is caught up, however long ago the
        last transaction was (an idle primary sends none); otherwise the age of the last replayed
        transaction is the lag."""
        if self.receiver_status == "streaming" and self.replayed_all_received and not self.replay_paused:
            return 0.0
        return self.seconds_since_last_replay

    def summary(self) -> dict[str, Any]:
        return {"in_recovery": self.in_recovery, "seconds_since_last_replay": _round(self.seconds_since_last_replay),
                "replayed_all_received": self.replayed_all_received, "wal_receiver": self.receiver_status,
                "replay_paused": self.replay_paused, "lag_seconds": _round(self.lag_seconds)}


@dataclass(frozen=True)
class AuroraRegionLag:
    """One region of an Aurora global database, from ``aurora_global_db_status()`` (RPO lag; -1 marks the
    primary) and ``aurora_global_db_instance_status()`` (the largest visibility lag of its instances)."""

    region: str
    rpo_lag_ms: float | None
    visibility_lag_ms: float | None

    @property
    def is_primary(self) -> bool:
        return self.rpo_lag_ms is not None and self.rpo_lag_ms < 0

    @property
    def lag_seconds(self) -> float | None:
        """The larger of the two lags, in seconds; None when the secondary reports neither yet."""
        known = [v for v in (self.rpo_lag_ms, self.visibility_lag_ms) if v is not None and v >= 0]
        return max(known) / 1000 if known else None

    def summary(self) -> dict[str, Any]:
        return {"aws_region": self.region, "rpo_lag_in_msec": self.rpo_lag_ms,
                "visibility_lag_in_msec": self.visibility_lag_ms}


@dataclass(frozen=True)
class Standby:
    """One row of the primary's pg_stat_replication."""

    application_name: str
    client_addr: str | None
    state: str | None
    sync_state: str | None
    replay_lag_seconds: float | None
    replayed_all_sent: bool | None

    @property
    def streaming(self) -> bool:
        return self.state == "streaming"

    @property
    def lag_seconds(self) -> float | None:
        """replay_lag; PostgreSQL clears it once an idle standby has replayed everything sent."""
        if self.replay_lag_seconds is not None:
            return self.replay_lag_seconds
        return 0.0 if self.replayed_all_sent else None

    def summary(self) -> dict[str, Any]:
        return {"application_name": self.application_name, "client_addr": self.client_addr, "state": self.state,
                "sync_state": self.sync_state, "replay_lag_seconds": _round(self.replay_lag_seconds),
                "replayed_all_sent": self.replayed_all_sent}


@dataclass(frozen=True)
class Archiver:
    """archive_mode and pg_stat_archiver, read at ``now`` (the server's clock)."""

    archive_mode: str
    archived_count: int
    last_archived_wal: str | None
    last_archived_time: datetime | None
    failed_count: int
    last_failed_wal: str | None
    last_failed_time: datetime | None
    now: datetime

    @property
    def enabled(self) -> bool:
        return self.archive_mode in {"on", "always"}

    @property
    def failing(self) -> bool:
        """A failure was recorded after the last success (or there never was a success)."""
        if self.last_failed_time is None:
            return False
        return self.last_archived_time is None or self.last_failed_time > self.last_archived_time

    @property
    def last_archive_age(self) -> timedelta | None:
        return None if self.last_archived_time is None else self.now - self.last_archived_time

    def problems(self, max_age: timedelta) -> list[str]:
        """What keeps WAL archiving from being current (empty: it is)."""
        found = []
        if not self.enabled:
            found.append(f"archive_mode is {self.archive_mode}")
        age = self.last_archive_age
        if age is None:
            found.append("no WAL segment has ever been archived")
        elif age > max_age:
            found.append(f"the last WAL segment was archived {age.total_seconds() / 60:.0f} min ago "
                         f"(at most {max_age.total_seconds() / 60:.0f} min expected)")
        if self.failing:
            found.append(f"archiving {self.last_failed_wal} failed at {self.last_failed_time:%Y-%m-%dT%H:%M:%SZ}"
                         f" after the last success")
        return found

    def summary(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None

        return {"archive_mode": self.archive_mode, "archived_count": self.archived_count,
                "last_archived_wal": self.last_archived_wal, "last_archived_time": when(self.last_archived_time),
                "failed_count": self.failed_count, "last_failed_wal": self.last_failed_wal,
                "last_failed_time": when(self.last_failed_time)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class PostgresServer:
    """One read-only session and the facts it reads, each once.

    >>> server.major
    16
    >>> server.replica_status().lag_seconds
    """

    def __init__(self, connection: psycopg.Connection[Any], target: Target, dropped_parameters: list[str]) -> None:
        self._connection = connection
        self.target = target
        self.dropped_parameters = dropped_parameters
        self._results: dict[str, list[tuple[Any, ...]]] = {}

    @classmethod
    def connect(cls, dsn: str, *, connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
                statement_timeout_ms: int = STATEMENT_TIMEOUT_MS) -> PostgresServer:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        target = target_of(dsn)
        cleaned, dropped = libpq_dsn(dsn)
        options = conninfo_to_dict(cleaned).get("options") or ""
        # The session cannot write: every transaction starts read-only, and no statement runs long.
        options = (f"{options} -c default_transaction_read_only=on "
                   f"-c statement_timeout={int(statement_timeout_ms)}").strip()
        settings = {"default_transaction_read_only": "on", "statement_timeout": str(int(statement_timeout_ms))}
        try:
            try:
                connection = psycopg.connect(cleaned, connect_timeout=connect_timeout, options=options,
                                             autocommit=True, application_name="spacelift-dr-suite")
            except psycopg.OperationalError as error:
                if not rejects_startup_options(str(error)):
                    raise
                # RDS Proxy and PgBouncer refuse startup options: set the same limits first thing instead.
                connection = psycopg.connect(cleaned, connect_timeout=connect_timeout, autocommit=True,
                                             application_name="spacelift-dr-suite")
                for name, value in settings.items():
                    connection.execute("SELECT set_config(%s, %s, false)", (name, value))
        except psycopg.Error as error:
            raise Unobservable("postgres:connect", target.name, connection_failure(error, _password(dsn))) from None
        server = cls(connection, target, dropped)
        if server._one("SHOW default_transaction_read_only") != "on":
            connection.close()
            raise Unobservable("postgres:connect", target.name,
                               "the server did not accept default_transaction_read_only=on; refusing to continue")
        return server

    def close(self) -> None:
        self._connection.close()

    def _rows(self, query: str) -> list[tuple[Any, ...]]:
        """The rows of one of this module's fixed queries, run once per session and recorded as evidence
        of every check that reads them."""
        import psycopg

        record_action("postgres:query", f"{self.target.name}: {query}")
        if query not in self._results:
            try:
                with self._connection.cursor() as cursor:
                    cursor.execute(query)  # fixed queries of this module only
                    self._results[query] = [tuple(r) for r in cursor.fetchall()]
            except psycopg.Error as error:
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise Unobservable("postgres:query", self.target.name, f"{first} (query: {query})") from None
        return self._results[query]

    def _row(self, query: str) -> tuple[Any, ...]:
        rows = self._rows(query)
        if not rows:
            raise Unobservable("postgres:query", self.target.name, f"no row returned by: {query}")
        return rows[0]

    def _one(self, query: str) -> Any:
        return self._row(query)[0]

    @property
    def version(self) -> str:
        return str(self._one("SHOW server_version"))

    @property
    def major(self) -> int:
        """The major version (``server_version_num`` 160004 → 16)."""
        return int(self._one("SHOW server_version_num")) // 10000

    @property
    def in_recovery(self) -> bool:
        return bool(self._one("SELECT pg_is_in_recovery()"))

    @property
    def is_rds(self) -> bool:
        """RDS and Aurora PostgreSQL expose ``rds.*`` settings (Aurora also ``aurora_version()``)."""
        return bool(self._one(
            "SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name LIKE 'rds.%')"
            " OR EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'aurora_version')"))

    @property
    def is_aurora(self) -> bool:
        """Aurora PostgreSQL has ``aurora_version()``; its replicas share storage, so the standby views
        (``pg_last_xact_replay_timestamp``, ``pg_stat_replication``) say nothing about replication."""
        return bool(self._one("SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'aurora_version')"))

    def aurora_global_lags(self) -> list[AuroraRegionLag]:
        """Per region of the Aurora global database this server belongs to, its lag."""
        status = self._rows("SELECT aws_region, rpo_lag_in_msec::float8 FROM aurora_global_db_status()")
        visibility = dict(self._rows(
            "SELECT aws_region, max(visibility_lag_in_msec)::float8 FROM aurora_global_db_instance_status()"
            " GROUP BY aws_region"))
        return [AuroraRegionLag(str(region), rpo, visibility.get(region)) for region, rpo in status]

    def replica_status(self) -> ReplicaStatus:
        if not self.in_recovery:
            return ReplicaStatus(False, None, None, None, None)
        since, all_replayed, paused = self._row(
            "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8,"
            " pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), pg_is_wal_replay_paused()")
        receiver = self._rows("SELECT status FROM pg_stat_wal_receiver")
        return ReplicaStatus(True, since, all_replayed, receiver[0][0] if receiver else None, paused)

    def standbys(self) -> list[Standby]:
        rows = self._rows(
            "SELECT application_name, client_addr::text, state, sync_state,"
            " EXTRACT(EPOCH FROM replay_lag)::float8, replay_lsn = sent_lsn FROM pg_stat_replication")
        if any(row[2] is None for row in rows):
            raise Unobservable("postgres:query", self.target.name,
                               "pg_stat_replication hides its details from this role; grant it pg_monitor")
        return [Standby(*row) for row in rows]

    @property
    def archiver(self) -> Archiver:
        row = self._row(
            "SELECT current_setting('archive_mode'), archived_count, last_archived_wal, last_archived_time,"
            " failed_count, last_failed_wal, last_failed_time, now() FROM pg_stat_archiver")
        return Archiver(*row)
