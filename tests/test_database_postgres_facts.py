"""The live database facts' decisions on their own: DSN clean-up, connection failures, replica lag and
WAL archiving, without a server (the servers are in test_database_live.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.postgres import (
    AMBIGUOUS_USERINFO,
    Archiver,
    ReplicaStatus,
    Standby,
    connection_failure,
    libpq_dsn,
    rejects_startup_options,
    target_of,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
names = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
values = st.from_regex(r"[A-Za-z0-9]{0,8}", fullmatch=True)


@given(params=st.lists(st.tuples(st.sampled_from(["sslmode", "statement_cache_capacity", "pool_max_conns",
                                                  "application_name", "connect_timeout", "replication"]), values),
                       max_size=5))
def test_libpq_dsn_keeps_only_what_libpq_knows(params: list[tuple[str, str]]) -> None:
    query = "&".join(f"{k}={v}" for k, v in params)
    cleaned, dropped = libpq_dsn(f"postgres://u:p@db.example:5432/spacelift?{query}")
    parsed = conninfo_to_dict(cleaned)  # libpq accepts what is left
    assert parsed["host"] == "db.example"
    assert set(dropped) == {k for k, _ in params} - {"sslmode", "application_name", "connect_timeout"}
    assert "replication" not in parsed


def test_target_names_host_port_and_database_only() -> None:
    target = target_of("postgresql://spacelift:s3cret@db.example:6432/spacelift?sslmode=verify-full")
    assert target.name == "db.example:6432/spacelift"
    assert "s3cret" not in str(target.summary())
    assert target.summary()["sslmode"] == "verify-full"


@example(password="passwo")  # a prefix of the suite's own word "password"
@given(password=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=6, max_size=20))
def test_connection_failure_never_echoes_the_password(password: str) -> None:
    error = RuntimeError(f'connection to server failed: FATAL:  password "{password}" authentication failed\nDETAIL')
    reason = connection_failure(error, password)
    wording = "authentication failed: wrong user or password"
    assert reason.startswith(wording)
    # What follows the suite's own wording is the server's message: the password must be masked there.
    assert password not in reason.removeprefix(wording)


def test_connection_failures_are_worded_for_the_sre() -> None:
    assert connection_failure(RuntimeError("... Connection refused"), None).startswith("unreachable")
    assert connection_failure(RuntimeError("timeout expired"), None).startswith("connection timed out after 10s")


def test_replica_lag_is_zero_only_when_streaming_and_caught_up() -> None:
    idle_but_current = ReplicaStatus(True, 3600.0, True, "streaming", False)
    assert idle_but_current.lag_seconds == 0.0
    behind = ReplicaStatus(True, 42.0, False, "streaming", False)
    assert behind.lag_seconds == 42.0
    disconnected = ReplicaStatus(True, 3600.0, True, None, False)
    assert disconnected.lag_seconds == 3600.0
    paused = ReplicaStatus(True, 9.0, True, "streaming", True)
    assert paused.lag_seconds == 9.0
    never_replayed = ReplicaStatus(True, None, False, "streaming", False)
    assert never_replayed.lag_seconds is None


def test_standby_lag_falls_back_to_positions_when_postgres_clears_it() -> None:
    assert Standby("dr", "10.0.0.1", "streaming", "async", 1.5, False).lag_seconds == 1.5
    assert Standby("dr", "10.0.0.1", "streaming", "async", None, True).lag_seconds == 0.0
    assert Standby("dr", "10.0.0.1", "catchup", "async", None, False).lag_seconds is None
    assert not Standby("dr", None, "catchup", "async", None, False).streaming


moments = st.one_of(st.none(), st.integers(0, 120).map(lambda m: NOW - timedelta(minutes=m)))


@given(mode=st.sampled_from(["on", "always", "off"]), archived=moments, failed=moments,
       max_minutes=st.integers(0, 60))
def test_archiver_is_healthy_exactly_when_on_recent_and_not_failing(mode: str, archived: datetime | None,
                                                                   failed: datetime | None, max_minutes: int) -> None:
    archiver = Archiver(mode, 1 if archived else 0, "0001" if archived else None, archived,
                        1 if failed else 0, "0002" if failed else None, failed, NOW)
    problems = archiver.problems(timedelta(minutes=max_minutes))
    healthy = (mode != "off" and archived is not None and NOW - archived <= timedelta(minutes=max_minutes)
               and (failed is None or failed <= archived))
    assert (not problems) is healthy, problems
    assert archiver.failing is (failed is not None and (archived is None or failed > archived))


def test_only_a_poolers_refusal_of_options_makes_the_limits_set_in_session() -> None:
    assert rejects_startup_options("FATAL:  unsupported startup parameter: options")
    assert rejects_startup_options("Feature not supported: RDS Proxy currently doesn't support command-line options.")
    assert not rejects_startup_options('FATAL:  password authentication failed for user "x"')
    assert not rejects_startup_options("FATAL:  unsupported startup parameter: extra_float_digits")


# Hostile user and password parts: unencoded '@', '/', '?', '#', ':' and spaces, as people paste them.
_USERINFO = st.text(st.sampled_from("abcXYZ019@/:?#% "), min_size=6, max_size=16)


@example(user="spacelift", password="p@ssw0rd-tail")
@given(user=_USERINFO, password=_USERINFO)
def test_no_part_of_the_userinfo_reaches_a_target_or_message(user: str, password: str) -> None:
    for part in (user, password):
        assume(part.strip() and part not in f"db.example:5432/spacelift {AMBIGUOUS_USERINFO}")
    dsn = f"postgres://{user}:{password}@db.example:5432/spacelift"
    try:
        shown = target_of(dsn).name
        assert shown == "db.example:5432/spacelift"  # accepted only when the host is unambiguous
    except Unobservable as error:
        shown = f"{error.resource}: {error}"
        assert shown.startswith("the configured DSN: ")
    assert password not in shown
    assert user not in shown


def test_an_unencoded_at_in_the_password_is_refused_not_split() -> None:
    with pytest.raises(Unobservable, match="not percent-encoded") as refused:
        target_of("postgres://spacelift:p@ss-secret-tail@db.example/spacelift")
    assert "secret-tail" not in str(refused.value)
    # Encoded, it is the password it says.
    encoded = libpq_dsn("postgres://spacelift:p%40ss-secret-tail@db.example/spacelift")[0]
    assert conninfo_to_dict(encoded)["password"] == "p@ss-secret-tail"
    assert target_of("postgres://spacelift@db.example").dbname == "(the user's default database)"


def test_spaces_in_query_values_survive() -> None:
    cleaned, _ = libpq_dsn("postgres://u:p@db.example/spacelift?options=-c%20search_path%3Dpublic&pool_max_conns=4")
    assert conninfo_to_dict(cleaned)["options"] == "-c search_path=public"
