"""KMS facts on API-shaped data: key roles, states and copies as real AWS returns them (including what moto
5.2 gets wrong: a primary with replicas pending deletion, replicas' rotation), the encryption mode, and how
the database's storage key is found."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.aws import AwsAccess
from spacelift_dr.config import parse_config
from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.kms import (
    DatabaseStorage,
    EncryptionModes,
    KeyMetadata,
    KmsFacts,
    cluster_endpoints,
    database_host,
    find_database_storage,
)
from spacelift_dr.installation import Container, Installation, Service

PRIMARY, BACKUP = "eu-west-1", "eu-central-1"
MRK = "mrk-1234abcd12ab34cd56ef1234567890ab"
REGIONS = st.sampled_from(["eu-west-1", "eu-central-1", "us-east-1", "us-west-2"])
STATES = st.sampled_from(["Enabled", "Disabled", "PendingDeletion", "PendingReplicaDeletion", "PendingImport",
                          "Unavailable", "Creating", "Updating"])


def arn(region: str, key_id: str = MRK) -> str:
    return f"arn:aws:kms:{region}:123456789012:key/{key_id}"


def metadata(region: str = PRIMARY, *, state: str = "Enabled", key_type: str | None = "PRIMARY",
             primary: str = PRIMARY, replicas: tuple[str, ...] = (BACKUP,), usage: str = "ENCRYPT_DECRYPT",
             spec: str = "SYMMETRIC_DEFAULT", manager: str = "CUSTOMER", key_id: str = MRK) -> dict[str, Any]:
    """``DescribeKey``'s ``KeyMetadata`` as AWS sends it."""
    found: dict[str, Any] = {
        "AWSAccountId": "123456789012", "KeyId": key_id, "Arn": arn(region, key_id), "Enabled": state == "Enabled",
        "KeyUsage": usage, "KeyState": state, "Origin": "AWS_KMS", "KeyManager": manager, "KeySpec": spec,
        "CustomerMasterKeySpec": spec, "MultiRegion": key_type is not None,
    }
    if key_type is not None:
        found["MultiRegionConfiguration"] = {
            "MultiRegionKeyType": key_type,
            "PrimaryKey": {"Arn": arn(primary, key_id), "Region": primary},
            "ReplicaKeys": [{"Arn": arn(r, key_id), "Region": r} for r in replicas],
        }
    return found


@st.composite
def key_metadata(draw: st.DrawFn) -> dict[str, Any]:
    region = draw(REGIONS)
    multi = draw(st.booleans())
    key_type = draw(st.sampled_from(["PRIMARY", "REPLICA"])) if multi else None
    primary = region if key_type == "PRIMARY" else draw(REGIONS)
    replicas = tuple(draw(st.lists(REGIONS, max_size=3, unique=True)))
    return metadata(region, state=draw(STATES), key_type=key_type, primary=primary, replicas=replicas,
                    key_id=MRK if multi else "1234abcd-12ab-34cd-56ef-1234567890ab")


@given(key_metadata())
def test_key_metadata_decisions(raw: dict[str, Any]) -> None:
    key = KeyMetadata.from_api(raw)
    assert key.enabled == (raw["KeyState"] == "Enabled")
    configuration = raw.get("MultiRegionConfiguration") or {}
    own_region = raw["Arn"].split(":")[3]
    primary_region = (configuration.get("PrimaryKey") or {}).get("Region")
    expected = raw["MultiRegion"] and (configuration["MultiRegionKeyType"] == "PRIMARY" or primary_region != own_region)
    assert key.is_usable_multi_region == expected
    assert raw["Arn"] in key.related_arns
    assert len(set(key.related_arns)) == len(key.related_arns)
    if not raw["MultiRegion"]:
        assert key.related_arns == (raw["Arn"],)


def test_replica_of_a_primary_in_the_same_region_is_not_usable() -> None:
    # What moto 5.2 answers for a primary once its replica was described: the suite never reads it as PASS.
    assert not KeyMetadata.from_api(metadata(key_type="REPLICA", primary=PRIMARY)).is_usable_multi_region
    assert KeyMetadata.from_api(metadata(BACKUP, key_type="REPLICA", primary=PRIMARY)).is_usable_multi_region


def test_deprecated_spec_field_is_read() -> None:
    raw = metadata(spec="RSA_4096", usage="SIGN_VERIFY")
    del raw["KeySpec"]
    assert KeyMetadata.from_api(raw).key_spec == "RSA_4096"


@pytest.fixture
def aws() -> AwsAccess:
    return AwsAccess(boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name=PRIMARY),
                     max_attempts=1)


def stub(aws: AwsAccess, service: str, region: str) -> Stubber:
    stubber = Stubber(aws.client(service, region))
    stubber.activate()
    return stubber


def test_primary_pending_replica_deletion_is_unusable(aws: AwsAccess) -> None:
    primary, backup = stub(aws, "kms", PRIMARY), stub(aws, "kms", BACKUP)
    primary.add_response("describe_key", {"KeyMetadata": metadata(state="PendingReplicaDeletion")},
                         {"KeyId": arn(PRIMARY)})
    backup.add_response("describe_key", {"KeyMetadata": metadata(BACKUP, key_type="REPLICA")}, {"KeyId": MRK})
    key = KmsFacts(aws, PRIMARY).key(arn(PRIMARY))
    copies = key.copies()
    assert [(c.region, c.key_state) for c in copies] == [(PRIMARY, "PendingReplicaDeletion"), (BACKUP, "Enabled")]
    assert key.problem_in(BACKUP) is None  # the replica itself is fine: DR-KMS-04 is what fails
    primary.assert_no_pending_responses()
    backup.assert_no_pending_responses()


def test_rotation_is_read_on_the_primary_only(aws: AwsAccess) -> None:
    # moto reports a replica's rotation wrongly; AWS gives a replica its primary's rotation. Never ask a replica.
    backup = stub(aws, "kms", BACKUP)
    backup.add_response("describe_key", {"KeyMetadata": metadata(BACKUP, key_type="REPLICA")}, {"KeyId": arn(BACKUP)})
    assert KmsFacts(aws, PRIMARY).key(arn(BACKUP)).rotation_enabled is None
    primary = stub(aws, "kms", PRIMARY)
    primary.add_response("describe_key", {"KeyMetadata": metadata()}, {"KeyId": "alias/spacelift"})
    primary.add_response("get_key_rotation_status", {"KeyRotationEnabled": True}, {"KeyId": MRK})
    assert KmsFacts(aws, PRIMARY).key("alias/spacelift").rotation_enabled is True
    primary.assert_no_pending_responses()


def test_signing_key_has_no_rotation_to_read(aws: AwsAccess) -> None:
    primary = stub(aws, "kms", PRIMARY)
    primary.add_response("describe_key", {"KeyMetadata": metadata(usage="SIGN_VERIFY", spec="RSA_4096")},
                         {"KeyId": MRK})
    assert KmsFacts(aws, PRIMARY).key(MRK).rotation_enabled is None


def test_missing_replica_and_single_region_keys(aws: AwsAccess) -> None:
    primary, backup = stub(aws, "kms", PRIMARY), stub(aws, "kms", BACKUP)
    primary.add_response("describe_key", {"KeyMetadata": metadata(replicas=())}, {"KeyId": MRK})
    backup.add_client_error("describe_key", "NotFoundException", expected_params={"KeyId": MRK})
    facts = KmsFacts(aws, PRIMARY)
    assert facts.key(MRK).problem_in(BACKUP) == f"{arn(PRIMARY)} has no replica in {BACKUP}"
    managed = "b1f2c3d4-0000-4000-8000-000000000000"
    primary.add_response("describe_key", {"KeyMetadata": metadata(key_type=None, manager="AWS", key_id=managed)},
                         {"KeyId": "alias/aws/s3"})
    problem = facts.key("alias/aws/s3").problem_in(BACKUP)
    assert problem is not None
    assert "AWS-managed key, which cannot be multi-region" in problem


def test_replica_listed_but_missing_in_its_region_is_unobservable(aws: AwsAccess) -> None:
    primary, backup = stub(aws, "kms", PRIMARY), stub(aws, "kms", BACKUP)
    primary.add_response("describe_key", {"KeyMetadata": metadata()}, {"KeyId": MRK})
    backup.add_client_error("describe_key", "NotFoundException", expected_params={"KeyId": MRK})
    with pytest.raises(Unobservable, match="lists this copy"):
        KmsFacts(aws, PRIMARY).key(MRK).copies()


def test_answer_without_key_usage_is_not_understood(aws: AwsAccess) -> None:
    primary = stub(aws, "kms", PRIMARY)
    raw = metadata()
    del raw["KeyUsage"]
    primary.add_response("describe_key", {"KeyMetadata": raw}, {"KeyId": MRK})
    with pytest.raises(Unobservable, match="lacks KeyUsage"):
        _ = KmsFacts(aws, PRIMARY).key(MRK).metadata


def test_denied_describe_names_action_and_key(aws: AwsAccess) -> None:
    primary = stub(aws, "kms", PRIMARY)
    primary.add_client_error("describe_key", "AccessDeniedException", http_status_code=400,
                             expected_params={"KeyId": MRK})
    with pytest.raises(Unobservable, match=f"kms:DescribeKey denied on {MRK}"):
        _ = KmsFacts(aws, PRIMARY).key(MRK).metadata


def installation(per_service: dict[str, dict[str, str]], secrets: dict[str, dict[str, str]] | None = None,
                 explicit: dict[str, str] | None = None) -> Installation:
    services = {role: Service(role, role, f"td/{role}", (Container(role, "img", env, (secrets or {}).get(role, {})),))
                for role, env in per_service.items()}
    return Installation("t", PRIMARY, BACKUP, None, ("states",), services, dict(explicit or {}))


MODE_VALUES = st.sampled_from([None, "kms", "rsa", "KMS", ""])


@given(st.fixed_dictionaries({role: MODE_VALUES for role in ("server", "drain", "scheduler")}))
def test_encryption_modes(values: dict[str, str | None]) -> None:
    env = {role: ({"ENCRYPTION_TYPE": v} if v is not None else {}) for role, v in values.items()}
    modes = EncryptionModes.from_installation(installation(env))
    effective = {role: "kms" if v is None else v for role, v in values.items()}
    assert modes.per_service == effective
    assert modes.consistent == (len(set(effective.values())) == 1)
    assert modes.invalid == {r: v for r, v in effective.items() if v not in ("kms", "rsa")}
    assert modes.uses("rsa") == ("rsa" in effective.values())
    assert modes.uses("kms") == any(v != "rsa" for v in effective.values())


def test_encryption_mode_behind_a_secret_is_unobservable() -> None:
    found = installation({"server": {}}, {"server": {"ENCRYPTION_TYPE": "arn:aws:secretsmanager:x"}})
    with pytest.raises(Unobservable, match="secret reference"):
        EncryptionModes.from_installation(found)


def test_no_services_no_mode() -> None:
    with pytest.raises(Unobservable, match="no service settings"):
        EncryptionModes.from_installation(installation({}))


@given(st.sampled_from(["postgres", "postgresql"]), st.text("abcdefghij-", min_size=1, max_size=12),
       st.text("abcdef0123", min_size=1, max_size=10))
def test_database_host_keeps_only_the_host(scheme: str, user: str, password: str) -> None:
    host = "Spacelift.cluster-abc.eu-west-1.rds.amazonaws.com"
    url = f"{scheme}://{user}:{password}@{host}:5432/spacelift?sslmode=require"
    assert database_host(url) == host.lower()


def test_cluster_endpoints() -> None:
    cluster = {"Endpoint": "A.x", "ReaderEndpoint": "b.x", "CustomEndpoints": ["c.x"]}
    assert cluster_endpoints(cluster) == {"a.x", "b.x", "c.x"}


CLUSTER = {"DBClusterIdentifier": "spacelift", "DBClusterArn": "arn:aws:rds:eu-west-1:123456789012:cluster:spacelift",
           "StorageEncrypted": True, "KmsKeyId": arn(PRIMARY), "Endpoint": "spacelift.cluster-a.rds.amazonaws.com",
           "ReaderEndpoint": "spacelift.cluster-ro-a.rds.amazonaws.com"}


def config(**database: str) -> Any:
    return parse_config({"installation": {"name": "t", "primary_region": PRIMARY, "backup_region": BACKUP,
                                          "discover": {"ecs_cluster": "c"}}, "database": database}, "<test>")


def test_database_found_by_configured_identifier(aws: AwsAccess) -> None:
    rds = stub(aws, "rds", PRIMARY)
    # The region's clusters, as the database checks list them (one read shared by both).
    rds.add_response("describe_db_clusters", {"DBClusters": [CLUSTER]}, {})
    found = find_database_storage(aws, config(cluster_identifier="SpaceLift"), installation({"server": {}}))
    assert found == DatabaseStorage("spacelift", CLUSTER["DBClusterArn"], True, arn(PRIMARY))


def test_database_found_by_reader_endpoint_or_instance(aws: AwsAccess) -> None:
    rds = stub(aws, "rds", PRIMARY)
    url = f"postgres://u:p@{CLUSTER['ReaderEndpoint']}:5432/db"
    rds.add_response("describe_db_clusters", {"DBClusters": [CLUSTER]}, {})
    found = find_database_storage(aws, config(), installation({"server": {"DATABASE_URL": url}}))
    assert found is not None
    assert found.found_by == "DATABASE_URL host"

    aws2 = AwsAccess(boto3.Session(aws_access_key_id="t", aws_secret_access_key="t"), max_attempts=1)
    rds2 = stub(aws2, "rds", PRIMARY)
    instance = {"DBInstanceIdentifier": "db1", "DBInstanceArn": "arn:aws:rds:eu-west-1:1:db:db1",
                "StorageEncrypted": True, "KmsKeyId": arn(PRIMARY), "Endpoint": {"Address": "db1.rds.amazonaws.com"}}
    rds2.add_response("describe_db_clusters", {"DBClusters": [CLUSTER]}, {})
    rds2.add_response("describe_db_instances", {"DBInstances": [instance]}, {})
    found = find_database_storage(aws2, config(), installation({"server": {"DATABASE_URL": "postgres://db1.rds.amazonaws.com/x"}}))
    assert found is not None
    assert found.identifier == "db1"


def test_database_behind_a_secret_says_what_to_configure(aws: AwsAccess) -> None:
    found = installation({"server": {}}, {"server": {"DATABASE_URL": "arn:aws:secretsmanager:eu-west-1:1:secret:db"}})
    with pytest.raises(Unobservable, match=r"set database\.cluster_identifier"):
        find_database_storage(aws, config(), found)
    with pytest.raises(Unobservable, match=r"set database\.cluster_identifier"):
        find_database_storage(aws, config(), installation({"server": {}}))
