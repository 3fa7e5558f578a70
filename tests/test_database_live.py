"""The live database checks (DR-DB-06 … 08) against real PostgreSQL servers started here: a primary that
archives WAL, its streaming standby, and a primary whose archiving fails. The installation around them is
the demo on moto, told that its DATABASE_URL points at the self-managed primary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from spacelift_dr.demo import Demo, DemoServer, seed
from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.postgres import PostgresServer
from tests.postgres_cluster import AUDITOR_PASSWORD, Clusters, Server, free_port, unavailable_reason, wait_until
from tests.scenario import Outcome, run_checks

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

LIVE = ("DR-DB-06", "DR-DB-07", "DR-DB-08")
PRIMARY_ENV, REPLICA_ENV = "SPACELIFT_DR_DATABASE_URL", "SPACELIFT_DR_REPLICA_DATABASE_URL"


@pytest.fixture(scope="module")
def clusters() -> Iterator[Clusters]:
    found = Clusters()
    try:
        yield found
    finally:
        found.stop_all()


@pytest.fixture(scope="module")
def primary(clusters: Clusters) -> Server:
    return clusters.primary()


@pytest.fixture(scope="module")
def standby(clusters: Clusters, primary: Server) -> Server:
    return clusters.standby(primary)


@pytest.fixture(scope="module")
def failing_archiver(clusters: Clusters) -> Server:
    """A primary whose archive_command always fails, with a segment it tried to archive."""
    server = clusters.primary(archive_command="false")
    wait_until(lambda: bool(server.value("SELECT failed_count FROM pg_stat_archiver")), "archiving has failed")
    return server


@pytest.fixture(scope="module")
def demo(moto_server: DemoServer) -> Demo:
    """The demo seeded once for this module: the live checks read only its settings, and nothing here
    changes it (the module's tests run one after the other on the session's moto server)."""
    moto_server.reset()
    return seed(moto_server.url)


def live_checks(demo: Demo, directory: Path, monkeypatch: pytest.MonkeyPatch, primary_dsn: str | None,
                replica_dsn: str | None = None, policy: dict[str, Any] | None = None) -> Outcome:
    """Run DR-DB-06 … 08 with the DSNs in the environment, as an SRE's pipeline would."""
    for name, dsn in ((PRIMARY_ENV, primary_dsn), (REPLICA_ENV, replica_dsn)):
        if dsn is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, dsn)
    overrides: dict[str, Any] = {
        "installation": {"settings": {"DATABASE_URL": "postgres://spacelift@127.0.0.1:5432/spacelift"}},
        "database": {"cluster_identifier": None},
    }
    if policy:
        overrides["policy"] = policy
    return run_checks(demo, directory, "--dr-requirement", ",".join(LIVE), overrides=overrides)


def assert_no_password_in(outcome: Outcome) -> None:
    for path in outcome.reports.iterdir():
        assert AUDITOR_PASSWORD not in path.read_text(encoding="utf-8"), path.name


def test_healthy_primary_and_streaming_replica_pass(primary: Server, standby: Server, demo: Demo,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    primary.execute("INSERT INTO spacelift_runs DEFAULT VALUES", "SELECT pg_switch_wal()")
    wait_until(lambda: Clusters.caught_up(standby), "the standby caught up")
    outcome = live_checks(demo, tmp_path, monkeypatch, primary.dsn(), standby.dsn())
    assert {r["requirement"]: r["status"] for r in outcome.results} == dict.fromkeys(LIVE, "PASS")
    version = outcome.result("DR-DB-06")
    assert version["resource"] == f"127.0.0.1:{primary.port}/postgres"
    assert version["evidence"]["server"] == {"host": "127.0.0.1", "port": str(primary.port), "dbname": "postgres",
                                             "sslmode": "disable"}
    # The evidence names the connection and the queries the verdict rests on, never the DSN.
    assert {"action": "postgres:connect", "resource": f"127.0.0.1:{primary.port}/postgres", "region": ""} in (
        version["actions"])
    assert any(a["action"] == "postgres:query" and "server_version_num" in a["resource"] for a in version["actions"])
    replica = outcome.result("DR-DB-07")
    assert replica["evidence"]["status"]["in_recovery"] is True
    assert replica["message"].startswith(f"127.0.0.1:{standby.port}/postgres is in recovery")
    archive = outcome.result("DR-DB-08")
    assert archive["evidence"]["archiver"]["archive_mode"] == "on"
    assert archive["evidence"]["archiver"]["failed_count"] == 0
    assert_no_password_in(outcome)


def test_session_is_read_only_with_timeouts(primary: Server) -> None:
    # Spacelift's DATABASE_URL carries pgx parameters libpq does not know: they are dropped, not fatal.
    server = PostgresServer.connect(primary.dsn() + "&statement_cache_capacity=0")
    try:
        assert server.dropped_parameters == ["statement_cache_capacity"]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            server._connection.execute("CREATE TABLE written_by_the_suite (id int)")
        assert server._one("SHOW statement_timeout") == "15s"
        assert server._one("SHOW transaction_read_only") == "on"
    finally:
        server.close()
    assert not primary.value("SELECT count(*) FROM pg_tables WHERE tablename = 'written_by_the_suite'")


def test_policy_thresholds_turn_version_and_archive_age_into_failures(
        primary: Server, standby: Server, demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    major = int(primary.value("SHOW server_version_num")) // 10000
    outcome = live_checks(demo, tmp_path, monkeypatch, primary.dsn(), standby.dsn(), policy={
        "postgres_major_supported": [major + 1, major + 2], "wal_archive_max_age_minutes": 0})
    assert outcome.status("DR-DB-06") == "FAIL"
    assert f"expected a major version from {major + 1} to {major + 2}" in outcome.result("DR-DB-06")["message"]
    assert outcome.status("DR-DB-08") == "FAIL"
    assert "the last WAL segment was archived" in outcome.result("DR-DB-08")["message"]
    assert outcome.status("DR-DB-07") == "PASS"


def test_replica_that_stopped_replaying_fails(primary: Server, standby: Server, demo: Demo, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    standby.execute("SELECT pg_wal_replay_pause()")
    try:
        primary.execute("INSERT INTO spacelift_runs DEFAULT VALUES")
        outcome = live_checks(demo, tmp_path, monkeypatch, primary.dsn(), standby.dsn(),
                              policy={"replica_max_lag_seconds": 0})
    finally:
        standby.execute("SELECT pg_wal_replay_resume()")
    result = outcome.result("DR-DB-07")
    assert result["status"] == "FAIL"
    assert "s behind, expected at most 0 s" in result["message"]
    assert result["evidence"]["status"]["replay_paused"] is True
    assert outcome.status("DR-DB-06") == "PASS"


def test_stopped_standby_fails_seen_from_the_primary(primary: Server, standby: Server, demo: Demo,
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    standby.stop()
    try:
        wait_until(lambda: not Clusters.streaming(primary), "the primary lost its standby")
        outcome = live_checks(demo, tmp_path, monkeypatch, primary.dsn(), standby.dsn())
    finally:
        standby.start()
        wait_until(lambda: Clusters.streaming(primary), "the standby streams again")
        primary.execute("INSERT INTO spacelift_runs DEFAULT VALUES")
        wait_until(lambda: Clusters.caught_up(standby), "the standby caught up again")
    result = outcome.result("DR-DB-07")
    assert result["status"] == "FAIL"
    assert "reports no streaming standby in pg_stat_replication" in result["message"]
    assert "unreachable" in result["evidence"]["replica_unreachable"]


def test_unreachable_replica_passes_when_the_primary_shows_it_streaming(
        primary: Server, standby: Server, demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"postgresql://dr_auditor:{AUDITOR_PASSWORD}@127.0.0.1:{free_port()}/postgres"
    outcome = live_checks(demo, tmp_path, monkeypatch, primary.dsn(), closed)
    result = outcome.result("DR-DB-07")
    assert result["status"] == "PASS"
    assert result["message"].endswith("(the replica itself does not answer)")
    assert result["evidence"]["pg_stat_replication"][0]["state"] == "streaming"


def test_failing_archiver_fails(failing_archiver: Server, demo: Demo, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = live_checks(demo, tmp_path, monkeypatch, failing_archiver.dsn())
    result = outcome.result("DR-DB-08")
    assert result["status"] == "FAIL"
    assert "no WAL segment has ever been archived" in result["message"]
    assert "failed at" in result["message"]
    assert result["evidence"]["archiver"]["failed_count"] >= 1
    assert outcome.status("DR-DB-06") == "PASS"
    assert outcome.status("DR-DB-07") == "N/A"


def test_wrong_password_is_an_error_that_does_not_echo_the_dsn(primary: Server, standby: Server, demo: Demo,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "Wr0ng-pa55word-not-shown"
    outcome = live_checks(demo, tmp_path, monkeypatch, primary.dsn(password=wrong), standby.dsn(password=wrong))
    assert {r["status"] for r in outcome.results} == {"ERROR"}
    for result in outcome.results:
        assert result["message"].startswith("postgres:connect failed on 127.0.0.1:")
        assert "authentication failed: wrong user or password" in result["message"]
    for path in outcome.reports.iterdir():
        text = path.read_text(encoding="utf-8")
        assert wrong not in text
        assert "postgresql://" not in text, f"{path.name} shows a DSN"
    assert outcome.exit_code == 6  # only ERRORs: nothing was found wrong, nothing could be evaluated


def test_unreachable_database_is_an_error(demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"postgresql://dr_auditor:{AUDITOR_PASSWORD}@127.0.0.1:{free_port()}/postgres"
    outcome = live_checks(demo, tmp_path, monkeypatch, closed)
    for requirement in ("DR-DB-06", "DR-DB-08"):
        result = outcome.result(requirement)
        assert result["status"] == "ERROR"
        assert "unreachable (connection failed" in result["message"]
    assert outcome.status("DR-DB-07") == "N/A"
    assert_no_password_in(outcome)


def test_malformed_dsn_is_an_error_without_echoing_it() -> None:
    with pytest.raises(Unobservable) as raised:
        PostgresServer.connect("host=127.0.0.1 password='s3cret-not-shown port=5432")
    assert "not a valid libpq connection string" in str(raised.value)
    assert "s3cret-not-shown" not in str(raised.value)


def test_behind_a_pooler_that_refuses_options_the_limits_are_set_in_session(
        primary: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = psycopg.connect

    def pooler(*args: Any, **kwargs: Any) -> Any:
        if "options" in kwargs:
            raise psycopg.OperationalError("FATAL:  unsupported startup parameter: options")
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", pooler)
    server = PostgresServer.connect(primary.dsn())
    try:
        assert server._one("SHOW statement_timeout") == "15s"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            server._connection.execute("CREATE TABLE written_behind_a_pooler (id int)")
    finally:
        server.close()


# -- Aurora: the lag of the global secondary comes from aurora_global_db_status() -------------------------

AURORA_FUNCTIONS = """
CREATE OR REPLACE FUNCTION aurora_version() RETURNS text LANGUAGE sql AS $$ SELECT '16.4.0' $$;
CREATE TABLE IF NOT EXISTS aurora_fake_status (aws_region text, rpo_lag_in_msec bigint, visibility_lag_in_msec bigint);
CREATE OR REPLACE FUNCTION aurora_global_db_status() RETURNS TABLE (
    aws_region text, highest_lsn_written bigint, durability_lag_in_msec bigint, rpo_lag_in_msec bigint,
    last_lag_calculation_time timestamptz, feedback_epoch integer, feedback_xmin integer)
LANGUAGE sql AS $$
    SELECT aws_region, 0::bigint, rpo_lag_in_msec, rpo_lag_in_msec, now(), 0, 0 FROM aurora_fake_status $$;
CREATE OR REPLACE FUNCTION aurora_global_db_instance_status() RETURNS TABLE (
    server_id text, session_id text, aws_region text, durable_lsn bigint, highest_lsn_rcvd bigint,
    feedback_epoch integer, feedback_xmin integer, oldest_read_view_lsn bigint, visibility_lag_in_msec bigint)
LANGUAGE sql AS $$ SELECT 'i-' || aws_region, 'MASTER_SESSION_ID', aws_region, 0::bigint, 0::bigint, 0, 0, 0::bigint,
    visibility_lag_in_msec FROM aurora_fake_status $$;
GRANT SELECT ON aurora_fake_status TO PUBLIC;
"""


@pytest.fixture(scope="module")
def aurora(clusters: Clusters) -> Server:
    """A server answering Aurora's global-database functions with the shape Aurora PostgreSQL documents."""
    server = clusters.primary()
    server.execute(*(statement for statement in AURORA_FUNCTIONS.split(";\n") if statement.strip()))
    return server


@pytest.mark.parametrize(("rows", "status", "message"), [
    ([("eu-west-1", -1, None), ("eu-central-1", 900, 1200)], "PASS",
     "the Aurora secondary in eu-central-1 is 1.2 s behind (aurora_global_db_status(); at most 300 s)"),
    ([("eu-west-1", -1, None), ("eu-central-1", 420_000, 1200)], "FAIL",
     "the Aurora secondary in eu-central-1 is 420.0 s behind"),
    ([("eu-west-1", -1, None), ("us-east-1", 900, 900)], "FAIL", "shows no secondary in eu-central-1"),
])
def test_aurora_lag_comes_from_the_global_database_status(aurora: Server, demo: Demo, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, rows: list[tuple[Any, ...]],
                                                          status: str, message: str) -> None:
    values = ", ".join(f"('{r}', {rpo}, {'NULL' if vis is None else vis})" for r, rpo, vis in rows)
    aurora.execute("DELETE FROM aurora_fake_status", f"INSERT INTO aurora_fake_status VALUES {values}")
    outcome = live_checks(demo, tmp_path, monkeypatch, None, aurora.dsn())
    result = outcome.result("DR-DB-07")
    assert result["status"] == status, result["message"]
    assert message in result["message"]
    assert any("aurora_global_db_status()" in a["resource"] for a in result["actions"])


def test_aurora_status_that_cannot_be_read_is_an_error(aurora: Server, demo: Demo, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    aurora.execute("REVOKE SELECT ON aurora_fake_status FROM PUBLIC")
    try:
        outcome = live_checks(demo, tmp_path, monkeypatch, None, aurora.dsn())
    finally:
        aurora.execute("GRANT SELECT ON aurora_fake_status TO PUBLIC")
    result = outcome.result("DR-DB-07")
    assert result["status"] == "ERROR"
    assert result["message"].startswith("postgres:query failed on ")
