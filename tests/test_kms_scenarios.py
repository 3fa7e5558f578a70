"""KMS (DR-KMS-01 … 06) against a seeded moto server: PASS when DR-ready, FAIL for exactly what a mutation
breaks, ERROR when a read is denied or the database cannot be found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from spacelift_dr.demo import Demo, DemoServer, seed
from tests.scenario import Outcome, changed_verdicts, denied, run_checks

ENC = "ENCRYPTION_KMS_ENCRYPTION_KEY_ID"
SIG = "ENCRYPTION_KMS_SIGNING_KEY_ID"
RSA = "ENCRYPTION_RSA_PRIVATE_KEY"
STATES = "spacelift-states-ab12c"
BUCKETS = ("spacelift-modules-ab12c", "spacelift-policy-inputs-ab12c", "spacelift-run-logs-ab12c", STATES)
CLUSTER = "spacelift-ab12c"


def client(demo: Demo, service: str, region: str = "eu-west-1") -> Any:
    return boto3.client(service, region_name=region, endpoint_url=demo.endpoint_url,
                        aws_access_key_id="test", aws_secret_access_key="test")


def encryption_verdicts(outcome: Outcome) -> dict[str, str]:
    return {k: v for k, v in outcome.verdicts.items() if k.startswith(("DR-KMS", "DR-RSA"))}


def test_dr_ready_kms_setup_passes(dr_ready: Outcome) -> None:
    expected = {
        "DR-KMS-01:ENCRYPTION_TYPE": "PASS",
        f"DR-KMS-02:{ENC}": "PASS", f"DR-KMS-03:{ENC}": "PASS", f"DR-KMS-04:{ENC}": "PASS",
        f"DR-KMS-04:{SIG}": "PASS", f"DR-KMS-05:{SIG}": "PASS",
        **{f"DR-KMS-06:{bucket}": "PASS" for bucket in BUCKETS},
        # The demo config names the seeded Aurora cluster (database.cluster_identifier).
        f"DR-KMS-06:{CLUSTER}": "PASS",
        f"DR-RSA-01:{RSA}": "N/A", f"DR-RSA-02:{RSA}": "N/A", f"DR-RSA-03:{RSA}": "N/A",
    }
    assert encryption_verdicts(dr_ready) == expected
    database = dr_ready.result("DR-KMS-06", CLUSTER)
    assert database["evidence"]["found_by"] == "database.cluster_identifier is spacelift-ab12c"
    # The key of the copy in the backup region is followed, not the source's.
    assert database["evidence"]["copies"][0]["KmsKeyId"].startswith("arn:aws:kms:eu-central-1:")
    assert database["message"].startswith("Aurora global secondary cluster spacelift-ab12c-dr is encrypted with "
                                          "arn:aws:kms:eu-central-1:")
    key = dr_ready.result("DR-KMS-02", ENC)
    assert key["evidence"]["key"]["MultiRegionKeyType"] == "PRIMARY"
    assert key["evidence"]["rotation"] == "enabled"
    assert key["region"] == "eu-west-1"
    assert "ENCRYPTION_TYPE is kms" in dr_ready.result("DR-RSA-01")["message"]


# mutation → the (requirement, resource) verdicts it must turn to FAIL; every other verdict unchanged.
BREAKS = {
    "single-region-encryption-key": {("DR-KMS-02", ENC), ("DR-KMS-03", ENC)},
    "encryption-key-replica-missing": {("DR-KMS-03", ENC)},
    "encryption-key-replica-disabled": {("DR-KMS-03", ENC), ("DR-KMS-04", ENC)},
    "encryption-key-pending-deletion": {("DR-KMS-04", ENC)},
    "single-region-signing-key": {("DR-KMS-05", SIG)},
    # Revision 2: the key of the database's copy, in the backup region, is what must be Enabled.
    "db-copy-key-pending-deletion": {("DR-KMS-06", CLUSTER)},
    "signing-key-wrong-spec": {("DR-KMS-05", SIG)},
    # The scheduler runs rsa without any RSA key: its RSA requirements apply now, and fail.
    "encryption-type-mismatch": {("DR-KMS-01", "ENCRYPTION_TYPE"), ("DR-RSA-01", RSA), ("DR-RSA-02", RSA),
                                 ("DR-RSA-03", RSA)},
}
MESSAGES = {
    "single-region-encryption-key": "has MultiRegion False, expected a multi-region PRIMARY key",
    "encryption-key-replica-missing": "has no replica in eu-central-1",
    "encryption-key-replica-disabled": "is Disabled",
    "encryption-key-pending-deletion": "is PendingReplicaDeletion, expected Enabled",
    "single-region-signing-key": "is a single-region key",
    "db-copy-key-pending-deletion": "is PendingDeletion (expected each copy's key Enabled in eu-central-1)",
    "signing-key-wrong-spec": "is a RSA_2048 SIGN_VERIFY key, expected RSA_4096 SIGN_VERIFY",
    "encryption-type-mismatch": "scheduler: rsa",
}


@pytest.mark.parametrize("mutation", sorted(BREAKS))
def test_mutation_fails_exactly_what_it_breaks(mutation: str, dr_ready: Outcome, moto: DemoServer,
                                               tmp_path: Path) -> None:
    broken = run_checks(seed(moto.url, [mutation]), tmp_path)
    changed = changed_verdicts(dr_ready, broken)
    assert changed == {f"{req}:{resource}": "FAIL" for req, resource in BREAKS[mutation]}
    assert broken.exit_code == 1
    first = min(BREAKS[mutation])
    result = broken.result(*first)
    assert MESSAGES[mutation] in result["message"]
    assert result["evidence"]


def test_denied_describe_key_is_an_error_never_a_verdict(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "encryption", hooks=denied("DescribeKey", "kms"))
    for requirement, resource in [("DR-KMS-02", ENC), ("DR-KMS-03", ENC), ("DR-KMS-04", ENC), ("DR-KMS-04", SIG),
                                  ("DR-KMS-05", SIG), *(("DR-KMS-06", b) for b in (*BUCKETS, CLUSTER))]:
        result = outcome.result(requirement, resource)
        assert result["status"] == "ERROR", (requirement, resource)
        # DR-KMS-06 follows the copies' keys, in the backup region.
        region = "eu-central-1" if requirement == "DR-KMS-06" else "eu-west-1"
        assert result["message"].startswith(f"kms:DescribeKey denied on arn:aws:kms:{region}:")
    assert outcome.status("DR-KMS-01") == "PASS"
    assert outcome.exit_code == 6  # errors and no FAIL: an unfinished run, not a non-compliant one


def test_denied_rotation_status_is_shown_but_decides_nothing(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-KMS-02",
                         hooks=denied("GetKeyRotationStatus", "kms"))
    result = outcome.result("DR-KMS-02", ENC)
    assert result["status"] == "PASS"
    assert result["evidence"]["rotation"].startswith("not observed (kms:GetKeyRotationStatus denied")


def test_encryption_type_behind_a_secret_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    outcome = run_checks(demo, tmp_path, "-m", "encryption",
                         hooks=[("after-call.ecs.DescribeTaskDefinition", _type_as_secret)])
    for requirement in ("DR-KMS-01", "DR-KMS-02", "DR-RSA-01", "DR-RSA-03"):
        assert outcome.status(requirement, "" if requirement != "DR-KMS-02" else ENC) == "ERROR"
    assert "ENCRYPTION_TYPE is a secret reference" in outcome.result("DR-KMS-01")["message"]


def _type_as_secret(parsed: dict[str, Any], **_: Any) -> None:
    for container in parsed["taskDefinition"]["containerDefinitions"]:
        container["environment"] = [e for e in container["environment"] if e["name"] != "ENCRYPTION_TYPE"]
        container.setdefault("secrets", []).append(
            {"name": "ENCRYPTION_TYPE", "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf"})


@pytest.mark.parametrize("form", ["key id", "alias name", "alias arn"])
def test_key_ids_in_every_form_resolve_to_the_same_key(form: str, moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    key = demo.context.facts["kms"]["encryption"]
    # Aliases never replicate: a DR-ready set-up creates the alias in the backup region too, on the replica.
    # moto 5.2 already resolves the primary's alias in the replica's region (and refuses a second one), so the
    # alias is created once; the failing shapes below are answered as AWS answers them.
    client(demo, "kms").create_alias(AliasName="alias/spacelift-encryption", TargetKeyId=key["id"])
    value = {"key id": key["id"], "alias name": "alias/spacelift-encryption",
             "alias arn": "arn:aws:kms:eu-west-1:123456789012:alias/spacelift-encryption"}[form]
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-KMS-02,DR-KMS-03,DR-KMS-04",
                         overrides={"installation": {"settings": {ENC: value}}})
    for requirement in ("DR-KMS-02", "DR-KMS-03", "DR-KMS-04"):
        result = outcome.result(requirement, ENC)
        assert result["status"] == "PASS", result["message"]
    evidence = outcome.result("DR-KMS-02", ENC)["evidence"]
    assert evidence["key_id"] == value
    assert evidence["key"]["Arn"] == key["arn"]
    setting = outcome.result("DR-KMS-03", ENC)["evidence"]["setting_in_backup_region"]
    assert setting["form"] == ("key ID" if form == "key id" else "alias")
    assert setting["alias_targets"] == (None if form == "key id" else key["replica_arn"])
    assert setting["note"] is None


def test_primary_key_arn_setting_is_noted_as_a_value_to_change(dr_ready: Outcome) -> None:
    result = dr_ready.result("DR-KMS-03", ENC)
    assert result["status"] == "PASS"
    setting = result["evidence"]["setting_in_backup_region"]
    assert setting["form"] == "key ARN"
    assert "the backup deployment must set it to arn:aws:kms:eu-central-1:123456789012:key/mrk-" in setting["note"]
    assert setting["note"] in result["message"]


ALIAS = "alias/spacelift-encryption"


def _alias_in_backup_region(metadata: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """Answer DescribeKey of ALIAS in eu-central-1 as AWS does: NotFoundException when the alias was not
    created there (moto resolves the primary region's alias there too), else the key it targets."""

    class _Http:
        status_code = 400 if metadata is None else 200
        raw = None

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["dr_test_key_id"] = params.get("KeyId")

    def answer(context: dict[str, Any], request_signer: Any, **_: Any) -> tuple[Any, dict[str, Any]] | None:
        if context.get("dr_test_key_id") != ALIAS or request_signer.region_name != "eu-central-1":
            return None
        if metadata is None:
            return _Http(), {"Error": {"Code": "NotFoundException",
                                       "Message": f"Alias arn:aws:kms:eu-central-1:123456789012:{ALIAS} is not found."},
                             "ResponseMetadata": {"HTTPStatusCode": 400}}
        return _Http(), {"KeyMetadata": metadata, "ResponseMetadata": {"HTTPStatusCode": 200}}

    return [("before-parameter-build.kms.DescribeKey", remember), ("before-call.kms.DescribeKey", answer)]


@pytest.mark.parametrize("backup_alias", ["missing", "on another key"])
def test_alias_that_does_not_resolve_to_the_replica_in_the_backup_region_fails(
        backup_alias: str, moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    key = demo.context.facts["kms"]["encryption"]
    client(demo, "kms").create_alias(AliasName=ALIAS, TargetKeyId=key["id"])
    other = client(demo, "kms", "eu-central-1").create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-KMS-02,DR-KMS-03,DR-KMS-04",
                         overrides={"installation": {"settings": {ENC: ALIAS}}},
                         hooks=_alias_in_backup_region(None if backup_alias == "missing" else other))
    assert outcome.status("DR-KMS-02", ENC) == "PASS"
    assert outcome.status("DR-KMS-04", ENC) == "PASS"
    result = outcome.result("DR-KMS-03", ENC)
    assert result["status"] == "FAIL"
    expected = (f"alias {ALIAS} does not exist in eu-central-1 (aliases are regional"
                if backup_alias == "missing" else f"alias {ALIAS} in eu-central-1 targets "
                                                  f"{other['Arn']}, not the copy of {key['arn']}")
    assert expected in result["message"]


def test_single_region_source_key_with_healthy_copies_passes(dr_ready: Outcome, moto: DemoServer,
                                                            tmp_path: Path) -> None:
    # The copies are re-encrypted with keys of the backup region: the source key need not be multi-region.
    demo = seed(moto.url)
    single = client(demo, "kms").create_key(Description="single-region", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    client(demo, "s3").put_bucket_encryption(Bucket=STATES, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": single["Arn"]}}]})
    broken = run_checks(demo, tmp_path)
    assert changed_verdicts(dr_ready, broken) == {}


def test_replica_bucket_key_pending_deletion_fails_kms_06(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    backup_kms = client(demo, "kms", "eu-central-1")
    created = backup_kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    backup_kms.schedule_key_deletion(KeyId=created["KeyId"], PendingWindowInDays=7)
    doomed = created["Arn"]
    client(demo, "s3", "eu-central-1").put_bucket_encryption(
        Bucket=f"{STATES}-dr", ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": doomed}}]})
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-KMS-06")
    result = outcome.result("DR-KMS-06", STATES)
    assert result["status"] == "FAIL"
    assert f"replica {STATES}-dr default encryption: {doomed} is PendingDeletion" in result["message"]


def test_replicas_with_s3_managed_encryption_pass(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    client(demo, "s3", "eu-central-1").put_bucket_encryption(
        Bucket=f"{STATES}-dr", ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    rule = demo.context.replication_configurations[STATES]["Rules"][0]
    del rule["Destination"]["EncryptionConfiguration"]
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-KMS-06")
    result = outcome.result("DR-KMS-06", STATES)
    assert result["status"] == "PASS"
    assert "SSE-S3" in result["message"]


def test_replica_key_missing_in_backup_region_fails_kms_06(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    missing = "arn:aws:kms:eu-central-1:123456789012:key/mrk-00000000000000000000000000000000"
    rule = demo.context.replication_configurations[STATES]["Rules"][0]
    rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"] = missing
    outcome = run_checks(demo, tmp_path, "-m", "encryption or stateful")
    assert outcome.result("DR-KMS-06", STATES)["message"].startswith(
        f"{STATES}: rule disaster-recovery ReplicaKmsKeyID: {missing} does not exist in eu-central-1")
    assert outcome.status("DR-KMS-06", STATES) == "FAIL"
    assert outcome.status("DR-OBJ-05", STATES) == "PASS"


# The demo seeds the Aurora cluster CLUSTER (encrypted with the multi-region master key) and its config names
# it; tests needing another database create one under another name and point the config at it.
NO_IDENTIFIER = {"cluster_identifier": None}


def _cluster(demo: Demo, identifier: str, key_arn: str) -> dict[str, Any]:
    return dict(client(demo, "rds").create_db_cluster(
        DBClusterIdentifier=identifier, Engine="aurora-postgresql", MasterUsername="spacelift",
        MasterUserPassword="cluster-pa55word-never-shown", StorageEncrypted=True, KmsKeyId=key_arn)["DBCluster"])


def test_database_copy_key_is_followed(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-KMS-06")
    result = outcome.result("DR-KMS-06", CLUSTER)
    assert result["status"] == "PASS", result["message"]
    assert result["evidence"]["copies"][0]["KmsKeyId"] == demo.context.facts["kms"]["master"]["replica_arn"]


def test_database_with_a_single_region_key_and_no_copy_is_not_applicable(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    single = client(demo, "kms").create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    _cluster(demo, "spacelift-single-region", single)
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-KMS-06",
                         overrides={"database": {"cluster_identifier": "spacelift-single-region"}})
    result = outcome.result("DR-KMS-06", "spacelift-single-region")
    assert result["status"] == "N/A"
    assert "no copy of Aurora cluster spacelift-single-region in the backup region (see DR-DB-04)" in result["message"]


def test_database_found_from_a_plain_database_url(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    # Another cluster too, so that finding the database by its endpoint has to pick the right one.
    single = client(demo, "kms").create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    _cluster(demo, "spacelift-other", single)
    endpoint = demo.context.facts["database"]["writer_endpoint"]
    url = f"postgres://spacelift:url-pa55word-never-shown@{endpoint}:5432/spacelift"
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-KMS-06",
                         overrides={"installation": {"settings": {"DATABASE_URL": url}}, "database": NO_IDENTIFIER})
    result = outcome.result("DR-KMS-06", CLUSTER)
    assert result["status"] == "PASS", result["message"]
    assert result["evidence"]["found_by"] == (
        f"DATABASE_URL's host {endpoint} is an endpoint of Aurora cluster {CLUSTER}")
    assert "url-pa55word-never-shown" not in (outcome.reports / "dr-results.json").read_text()


def test_self_managed_database_is_not_applicable(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    url = "postgres://spacelift:pw-never-shown@db.internal.example:5432/spacelift"
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-KMS-06",
                         overrides={"installation": {"settings": {"DATABASE_URL": url}},
                                    "database": {**NO_IDENTIFIER, "self_managed": True}})
    result = outcome.result("DR-KMS-06", "database")
    assert result["status"] == "N/A"
    assert "database.self_managed is true" in result["message"]


def test_database_url_behind_a_secret_without_identifier_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    # The demo's DATABASE_URL is a secret reference: without the cluster named, the suite says what to configure.
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-KMS-06",
                         overrides={"database": NO_IDENTIFIER})
    result = outcome.result("DR-KMS-06", "database")
    assert result["status"] == "ERROR"
    assert "give database.cluster_identifier" in result["message"]


def test_unencrypted_database_is_not_applicable(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, ["db-unencrypted"]), tmp_path, "--dr-requirement", "DR-KMS-06")
    result = outcome.result("DR-KMS-06", CLUSTER)
    assert result["status"] == "N/A"
    # Issue 15: KMS-06 follows the keys of the database's copies in the backup region (the locator's copies).
    assert "copies in the backup region are not encrypted with a KMS key" in result["message"]


@pytest.mark.parametrize(("identifier", "hooks", "message"), [
    # The database is found as DB-01 … 05 find it (issue 15's locator): among the region's clusters, then its
    # instances. Until it is found the result is about the configured "database"; the message names both.
    (CLUSTER, denied("DescribeDBClusters", "rds"), "rds:DescribeDBClusters denied on DB clusters in eu-west-1"),
    ("spacelift-missing", [], "rds:DescribeDBClusters failed on spacelift-missing: database.cluster_identifier "
                              "spacelift-missing names no DB cluster or instance in eu-west-1"),
])
def test_database_that_cannot_be_read_is_an_error(identifier: str, hooks: list[Any], message: str,
                                                  moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-KMS-06", hooks=hooks,
                         overrides={"database": {"cluster_identifier": identifier}})
    result = outcome.result("DR-KMS-06", "database")
    assert result["status"] == "ERROR"
    assert message in result["message"]
