"""Stateful components: the database (DR guide, "Database").

DR-DB-01 … 05 read the RDS/Aurora API for the database the installation uses; DR-DB-06 … 08 (live)
open read-only sessions with the DSNs the config's environment variables hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fixtures.database import DatabaseLocator, PostgresSessions
from fixtures.requirements import requirement
from spacelift_dr.config import Policy
from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.database import Database, RecoveryPointAge
from spacelift_dr.facts.postgres import PostgresServer
from spacelift_dr.installation import Installation
from spacelift_dr.results import Evidence, NotApplicable


@requirement("DR-DB-01")
def test_automated_backups_kept_long_enough(rds_database: Database, policy: Policy, evidence: Evidence) -> None:
    retention = rds_database.reported("BackupRetentionPeriod")
    evidence.observed(BackupRetentionPeriod=retention, minimum_days=policy.backup_retention_days_min)
    assert retention >= policy.backup_retention_days_min, (
        f"{rds_database.label} keeps automated backups {retention} days, "
        f"expected at least {policy.backup_retention_days_min}")
    evidence.message = f"{rds_database.label} keeps automated backups {retention} days"


@requirement("DR-DB-02")
def test_point_in_time_recovery_is_current(rds_database: Database, policy: Policy, evidence: Evidence) -> None:
    now = datetime.now(UTC)
    lag = rds_database.pitr_lag(now)
    restorable = rds_database.latest_restorable_time
    evidence.observed(LatestRestorableTime=restorable.isoformat() if restorable else None, observed_at=now.isoformat(),
                      lag_minutes=round(lag.total_seconds() / 60, 1) if lag is not None else None,
                      max_lag_minutes=policy.pitr_max_lag_minutes)
    assert lag is not None, (
        f"{rds_database.label} reports no LatestRestorableTime: point-in-time recovery is unavailable")
    assert lag <= timedelta(minutes=policy.pitr_max_lag_minutes), (
        f"{rds_database.label} can be restored only up to {lag.total_seconds() / 60:.0f} min ago, "
        f"expected at most {policy.pitr_max_lag_minutes} min")
    evidence.message = f"{rds_database.label} is restorable to {lag.total_seconds() / 60:.1f} min ago"


@requirement("DR-DB-03")
def test_database_cannot_be_deleted_by_accident(rds_database: Database, evidence: Evidence) -> None:
    protected = rds_database.reported("DeletionProtection")
    evidence.observed(DeletionProtection=protected)
    assert protected is True, f"{rds_database.label} has DeletionProtection {protected}, expected true"
    evidence.message = f"{rds_database.label} has deletion protection"


@requirement("DR-DB-04")
def test_database_copy_in_backup_region(rds_database: Database, database_locator: DatabaseLocator,
                                        installation: Installation, policy: Policy, evidence: Evidence) -> None:
    mechanisms = database_locator.copies(rds_database)
    evidence.observed(mechanisms={m.name: m.summary() for m in mechanisms})
    holding = [m for m in mechanisms if m.holds]
    unobservable = [m for m in mechanisms if m.holds is None]
    if not holding and unobservable and unobservable[0].error is not None:
        raise unobservable[0].error  # cannot tell: an unreadable mechanism might be the one that holds
    assert holding, (f"no copy of {rds_database.label} in {installation.backup_region}, expected one of five "
                     f"mechanisms to hold: "
                     + "; ".join(f"{m.name}: {m.detail}" for m in mechanisms))
    evidence.message = "; ".join(f"{m.name}: {m.detail}" for m in holding)


@requirement("DR-DB-09")
def test_database_recovery_point_is_recent(rds_database: Database, database_locator: DatabaseLocator,
                                           installation: Installation, policy: Policy, evidence: Evidence) -> None:
    target = policy.rpo_target_minutes * 60
    point: dict[str, object] = {"component": "database", "mechanism": "none", "measured_seconds": None,
                                "measured": "no copy in the backup region", "target_seconds": float(target)}
    evidence.observed(recovery_point=point)
    mechanisms = database_locator.copies(rds_database)
    holding = [m for m in mechanisms if m.holds]
    unobservable = [m for m in mechanisms if m.holds is None]
    evidence.observed(mechanisms={m.name: m.summary() for m in mechanisms})
    if not holding and unobservable and unobservable[0].error is not None:
        raise unobservable[0].error
    assert holding, (f"no copy of {rds_database.label} in {installation.backup_region} (see DR-DB-04), expected one "
                     f"whose recovery point is at most {policy.rpo_target_minutes} min old")
    found = database_locator.recovery_points(holding)
    ages = [a for a in found if isinstance(a, RecoveryPointAge)]
    evidence.observed(measurements=[a.summary() if isinstance(a, RecoveryPointAge) else str(a) for a in found])
    measured = sorted((a for a in ages if a.seconds is not None), key=lambda a: a.seconds or 0.0)
    if not measured:
        errors = [a for a in found if isinstance(a, Unobservable)]
        if errors:
            raise errors[0]
        raise Unobservable("cloudwatch:GetMetricData", rds_database.identifier,
                           "; ".join(f"{a.mechanism}: {a.measured}" for a in ages))
    freshest = measured[0]  # where several copies hold, the freshest is the recovery point
    assert freshest.seconds is not None
    point.update(mechanism=freshest.mechanism, measured_seconds=round(freshest.seconds, 1),
                 measured=freshest.measured)
    evidence.observed(recovery_point=point)
    assert freshest.seconds <= target, (
        f"the recovery point of {rds_database.label} in {installation.backup_region} is {freshest.measured} "
        f"({freshest.mechanism}), expected at most {policy.rpo_target_minutes} min")
    evidence.message = (f"{rds_database.label}'s recovery point in {installation.backup_region}: "
                        f"{freshest.measured} ({freshest.mechanism}), target {policy.rpo_target_minutes} min")


@requirement("DR-DB-05")
def test_database_storage_is_encrypted(rds_database: Database, evidence: Evidence) -> None:
    encrypted = rds_database.reported("StorageEncrypted")
    evidence.observed(StorageEncrypted=encrypted, KmsKeyId=rds_database.kms_key_id)
    assert encrypted is True, f"{rds_database.label} has StorageEncrypted {encrypted}, expected true"
    evidence.message = f"{rds_database.label} is encrypted with {rds_database.kms_key_id}"


@requirement("DR-DB-06")
def test_database_answers_with_supported_version(primary_postgres: PostgresServer, policy: Policy,
                                                 evidence: Evidence) -> None:
    low, high = policy.postgres_major_supported
    evidence.observed(server_version=primary_postgres.version, major=primary_postgres.major, supported=[low, high])
    assert low <= primary_postgres.major <= high, (
        f"{primary_postgres.target.name} runs PostgreSQL {primary_postgres.version}, "
        f"expected a major version from {low} to {high}")
    evidence.message = (f"{primary_postgres.target.name} answers a read-only session and runs PostgreSQL "
                        f"{primary_postgres.version}")


@requirement("DR-DB-07")
def test_dr_replica_keeps_up(postgres_sessions: PostgresSessions, installation: Installation, policy: Policy,
                             evidence: Evidence) -> None:
    limit = policy.replica_max_lag_seconds
    evidence.about(postgres_sessions.target_name("replica"))
    try:
        replica = postgres_sessions.session("replica")
    except Unobservable as unreachable:
        # The replica does not answer: the primary still knows whether a standby streams from it.
        _standby_keeps_up_per_primary(postgres_sessions, unreachable, limit, evidence)
        return
    if replica.is_aurora:
        _aurora_secondary_keeps_up(replica, installation.backup_region, limit, evidence)
        return
    status = replica.replica_status()
    evidence.observed(replica=replica.target.summary(), status=status.summary(), max_lag_seconds=limit)
    assert status.in_recovery, (f"{replica.target.name} is not in recovery (a primary, or a promoted replica), "
                                f"expected a streaming DR replica")
    lag = status.lag_seconds
    assert lag is not None, f"{replica.target.name} has not replayed any transaction yet: its lag is unknown"
    assert lag <= limit, f"{replica.target.name} is {lag:.0f} s behind, expected at most {limit} s"
    evidence.message = f"{replica.target.name} is in recovery and {lag:.0f} s behind (at most {limit} s)"


def _aurora_secondary_keeps_up(server: PostgresServer, backup: str, limit: int, evidence: Evidence) -> None:
    lags = server.aurora_global_lags()
    evidence.observed(replica=server.target.summary(), aurora_global_db_status=[lag.summary() for lag in lags],
                      max_lag_seconds=limit)
    secondary = [lag for lag in lags if lag.region == backup and not lag.is_primary]
    assert secondary, (f"{server.target.name} is Aurora, and aurora_global_db_status() shows no secondary in {backup} "
                       f"(regions: {', '.join(f'{lag.region}' for lag in lags) or 'none'}), expected one")
    lag = secondary[0].lag_seconds
    assert lag is not None, f"the Aurora secondary in {backup} reports no RPO or visibility lag yet: its lag is unknown"
    assert lag <= limit, (f"the Aurora secondary in {backup} is {lag:.1f} s behind (rpo_lag_in_msec "
                          f"{secondary[0].rpo_lag_ms}, visibility_lag_in_msec {secondary[0].visibility_lag_ms}), "
                          f"expected at most {limit} s")
    evidence.message = (f"the Aurora secondary in {backup} is {lag:.1f} s behind (aurora_global_db_status(); "
                        f"at most {limit} s)")


def _standby_keeps_up_per_primary(sessions: PostgresSessions, unreachable: Unobservable, limit: int,
                                  evidence: Evidence) -> None:
    if not sessions.configured("primary"):
        raise unreachable
    primary = sessions.session("primary")
    standbys = primary.standbys()
    evidence.observed(replica_unreachable=unreachable.reason, primary=primary.target.summary(),
                      pg_stat_replication=[s.summary() for s in standbys], max_lag_seconds=limit)
    streaming = [s for s in standbys if s.streaming]
    assert streaming, (f"the replica does not answer ({unreachable.reason}) and {primary.target.name} reports "
                       f"no streaming standby in pg_stat_replication, expected one")
    within = [s for s in streaming if (lag := s.lag_seconds) is not None and lag <= limit]
    assert within, (f"the replica does not answer and no standby of {primary.target.name} is within {limit} s: "
                    + ", ".join(f"{s.application_name} replay lag {s.lag_seconds}" for s in streaming))
    evidence.message = (f"{primary.target.name} streams to {within[0].application_name} "
                        f"{within[0].lag_seconds:.0f} s behind (the replica itself does not answer)")


@requirement("DR-DB-08")
def test_self_managed_database_archives_wal(postgres_sessions: PostgresSessions, database_locator: DatabaseLocator,
                                            policy: Policy, evidence: Evidence) -> None:
    evidence.about(postgres_sessions.target_name("primary"))
    located = database_locator.located_or_none()
    if located is not None and located.database is not None:
        raise NotApplicable(f"the database is {located.database.label} ({located.basis}); RDS and Aurora archive "
                            f"their own logs")
    server = postgres_sessions.session("primary")
    if server.is_rds:
        raise NotApplicable(f"{server.target.name} is RDS or Aurora (it has rds.* settings); they archive their "
                            f"own logs")
    archiver = server.archiver
    max_age = timedelta(minutes=policy.wal_archive_max_age_minutes)
    evidence.observed(server=server.target.summary(), archiver=archiver.summary(),
                      max_age_minutes=policy.wal_archive_max_age_minutes)
    problems = archiver.problems(max_age)
    assert not problems, (f"{server.target.name}: " + "; ".join(problems)
                          + f" (expected archive_mode on and a WAL segment archived in the last "
                            f"{policy.wal_archive_max_age_minutes} min with no failure since)")
    age = archiver.last_archive_age
    evidence.message = (f"{server.target.name} archives WAL; {archiver.last_archived_wal} was archived "
                        f"{age.total_seconds() / 60 if age else 0:.1f} min ago with no failure since")
