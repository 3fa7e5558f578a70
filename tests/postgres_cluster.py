"""Real PostgreSQL servers for the live database tests: a primary archiving WAL to a local folder, a
streaming standby made with ``pg_basebackup -R``, and whatever else a scenario needs.

Debian's binaries (``/usr/lib/postgresql/<major>/bin``) are used; as root they run as the ``postgres``
user. Servers listen on 127.0.0.1 (a free port) and on a unix socket in their own temporary folder. The
harness configures the servers over the socket as superuser; the suite under test connects over TCP as a
non-superuser role with a password (scram-sha-256), as it would in production.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

AUDITOR = "dr_auditor"
AUDITOR_PASSWORD = "dr-Aud1tor-pa55-never-shown"


def binaries() -> Path | None:
    """The folder with initdb, pg_ctl and pg_basebackup (newest major), or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    for folder in reversed(candidates):
        if all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup")):
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable_reason() -> str | None:
    """Why real servers cannot be started here (None: they can)."""
    if binaries() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found; install Debian's postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no postgres user to run the servers as"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting until {what}")


@dataclass
class Server:
    """One PostgreSQL server under ``root/<name>``."""

    root: Path
    name: str
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / self.name

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    def dsn(self, user: str = AUDITOR, password: str | None = AUDITOR_PASSWORD, dbname: str = "postgres") -> str:
        secret = f":{password}" if password is not None else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{dbname}?sslmode=disable"

    def _run(self, *args: str) -> None:
        command = [str(binaries() / args[0]), *args[1:]]  # type: ignore[operator]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}\n{log}")

    def configure(self, **settings: Any) -> None:
        quoted = {k: "'" + v.replace("'", "''") + "'" if isinstance(v, str) else str(v) for k, v in settings.items()}
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n" + "\n".join(f"{k} = {v}" for k, v in quoted.items()) + "\n")

    def initdb(self, archive_command: str) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8")
        self.configure(listen_addresses="127.0.0.1", port=self.port, unix_socket_directories=str(self.root),
                       wal_level="replica", archive_mode="on", archive_command=archive_command,
                       max_wal_senders=5, hot_standby="on", fsync="off", synchronous_commit="off",
                       full_page_writes="off", password_encryption="scram-sha-256")

    def basebackup_of(self, primary: Server) -> None:
        self._run("pg_basebackup", "-h", str(self.root), "-p", str(primary.port), "-U", "postgres",
                  "-D", str(self.data), "-R", "-X", "stream", "--no-sync")
        self.configure(port=self.port)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def admin(self) -> psycopg.Connection[Any]:
        """A superuser session over the unix socket: the harness's, never the suite's."""
        return psycopg.connect(host=str(self.root), port=self.port, user="postgres", dbname="postgres",
                               autocommit=True)

    def execute(self, *statements: str) -> list[Any]:
        results = []
        with self.admin() as connection:
            for statement in statements:
                cursor = connection.execute(statement)  # type: ignore[arg-type]
                results.append(cursor.fetchone() if cursor.description else None)
        return results

    def value(self, query: str) -> Any:
        row = self.execute(query)[0]
        return row[0] if row else None


class Clusters:
    """The servers of one test session, all under one temporary folder owned by ``postgres``."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="spacelift-dr-pg-"))
        self.archive = self.root / "archive"
        self.archive.mkdir()
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.root, self.archive):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o700)
        self.servers: list[Server] = []

    def _server(self, name: str) -> Server:
        server = Server(self.root, name)
        self.servers.append(server)
        return server

    def primary(self, archive_command: str | None = None) -> Server:
        """A primary archiving WAL into the archive folder, with the auditor role and some data."""
        server = self._server(f"primary-{len(self.servers)}")
        server.initdb(archive_command or f"cp %p {self.archive}/%f")
        server.start()
        server.execute(
            f"CREATE ROLE {AUDITOR} LOGIN PASSWORD '{AUDITOR_PASSWORD}' IN ROLE pg_monitor",
            "CREATE TABLE spacelift_runs (id serial PRIMARY KEY, at timestamptz DEFAULT now())",
            "INSERT INTO spacelift_runs DEFAULT VALUES",
            "SELECT pg_switch_wal()",
        )
        return server

    def standby(self, primary: Server) -> Server:
        server = self._server(f"standby-{len(self.servers)}")
        server.basebackup_of(primary)
        server.start()
        wait_until(lambda: self.streaming(primary), "the standby streams")
        # A transaction after the standby started, so that it has a last replayed transaction to report.
        primary.execute("INSERT INTO spacelift_runs DEFAULT VALUES")
        wait_until(lambda: self.caught_up(server), "the standby has replayed the primary's last transaction")
        return server

    @staticmethod
    def streaming(primary: Server) -> bool:
        return bool(primary.value("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"))

    @staticmethod
    def caught_up(standby: Server) -> bool:
        return bool(standby.value(
            "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
            " AND pg_last_xact_replay_timestamp() IS NOT NULL"))

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            # Still remove the folder if one will not stop: a stray server dies with its data folder gone.
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
