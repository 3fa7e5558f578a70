"""Replication, versioning and encryption facts, on API-shaped data (fields moto drops included)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.iam import TrustPolicy
from spacelift_dr.facts.s3 import (
    DefaultEncryption,
    Lifecycle,
    ReplicationConfiguration,
    ReplicationRule,
    Versioning,
    arn_region,
    location_region,
    metric_values,
    trusts_service,
)

REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "ap-southeast-2"]
status = st.sampled_from(["Enabled", "Disabled"])
prefix = st.sampled_from(["", "tmp/", "logs/2024/"])
tag = st.fixed_dictionaries({"Key": st.sampled_from(["env", "team"]), "Value": st.sampled_from(["a", "b"])})
key_arn = st.builds(lambda r, k: f"arn:aws:kms:{r}:123456789012:key/mrk-{k}", st.sampled_from(REGIONS),
                    st.text("0123456789abcdef", min_size=8, max_size=8))

rule_filter = st.one_of(
    st.just({}),
    st.builds(lambda p: {"Prefix": p}, prefix),
    st.builds(lambda t: {"Tag": t}, tag),
    st.builds(lambda p, ts: {"And": {"Prefix": p, "Tags": ts}}, prefix, st.lists(tag, max_size=2)),
)


@st.composite
def api_rules(draw: st.DrawFn) -> dict[str, Any]:
    """A rule as GetBucketReplication returns it: V2 (Filter) or legacy V1 (Prefix), optional fields."""
    rule: dict[str, Any] = {"ID": draw(st.text(min_size=1, max_size=10)), "Status": draw(status),
                            "Destination": {"Bucket": f"arn:aws:s3:::{draw(st.sampled_from(['dr', 'copy']))}"}}
    if draw(st.booleans()):
        rule["Filter"] = draw(rule_filter)
        rule["Priority"] = draw(st.integers(0, 10))
    else:
        rule["Prefix"] = draw(prefix)
    if draw(st.booleans()):
        rule["DeleteMarkerReplication"] = {"Status": draw(status)}
    if draw(st.booleans()):
        rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": draw(status)}}
    if draw(st.booleans()):
        rule["Destination"]["EncryptionConfiguration"] = {"ReplicaKmsKeyID": draw(key_arn)}
    return rule


def _filter_prefix_and_tags(rule: dict[str, Any]) -> tuple[str, int]:
    if "Filter" not in rule:
        return rule.get("Prefix", ""), 0
    f = rule["Filter"]
    conjunction = f.get("And", {})
    return (f.get("Prefix") or conjunction.get("Prefix") or "",
            (1 if "Tag" in f else 0) + len(conjunction.get("Tags", [])))


@given(api_rules())
def test_a_rule_covers_all_objects_exactly_when_it_has_no_prefix_and_no_tags(rule: dict[str, Any]) -> None:
    parsed = ReplicationRule.from_api(rule)
    rule_prefix, tags = _filter_prefix_and_tags(rule)
    assert parsed.covers_all_objects == (rule_prefix == "" and tags == 0)


@given(api_rules())
def test_delete_markers_and_kms_objects_count_only_when_explicitly_enabled(rule: dict[str, Any]) -> None:
    parsed = ReplicationRule.from_api(rule)
    # A V1 rule (no Filter) has no switch: S3 replicates its delete markers.
    assert parsed.replicates_delete_markers == (
        "Filter" not in rule or rule.get("DeleteMarkerReplication", {}).get("Status") == "Enabled")
    criteria = rule.get("SourceSelectionCriteria", {}).get("SseKmsEncryptedObjects", {})
    assert parsed.replicates_sse_kms_objects == (criteria.get("Status") == "Enabled")


@given(api_rules())
def test_replica_key_region_is_the_region_of_its_arn(rule: dict[str, Any]) -> None:
    parsed = ReplicationRule.from_api(rule)
    key = rule["Destination"].get("EncryptionConfiguration", {}).get("ReplicaKmsKeyID")
    assert parsed.replica_kms_key_region == (key.split(":")[3] if key else None)


@given(st.lists(api_rules(), max_size=5))
def test_enabled_rules_covering_all_objects_is_the_exact_subset(rules: list[dict[str, Any]]) -> None:
    configuration = ReplicationConfiguration.from_api({"ReplicationConfiguration": {"Role": "r", "Rules": rules}})
    chosen = configuration.enabled_rules_covering_all_objects()
    assert all(r.enabled and r.covers_all_objects for r in chosen)
    assert len(chosen) == sum(1 for r in configuration.rules if r.enabled and r.covers_all_objects)
    assert configuration.exists


def test_rule_as_moto_returns_it_does_not_replicate_delete_markers() -> None:
    # moto 5.2 answers DeleteMarkerReplication Disabled whatever was put, and drops SourceSelectionCriteria.
    moto_shaped = {"ID": "dr", "Priority": 1, "Filter": {"Prefix": ""}, "Status": "Enabled",
                   "Destination": {"Bucket": "arn:aws:s3:::dr"}, "DeleteMarkerReplication": {"Status": "Disabled"}}
    rule = ReplicationRule.from_api(moto_shaped)
    assert rule.covers_all_objects
    assert not rule.replicates_delete_markers
    assert not rule.replicates_sse_kms_objects
    assert rule.destination_bucket == "dr"


def test_no_configuration_is_an_empty_one() -> None:
    configuration = ReplicationConfiguration.from_api(None)
    assert not configuration.exists
    assert configuration.enabled_rules_covering_all_objects() == []


@given(st.sampled_from([None, "Enabled", "Suspended"]), st.sampled_from([None, "Enabled", "Disabled"]))
def test_versioning_is_enabled_only_when_status_says_so(state: str | None, mfa: str | None) -> None:
    response = {k: v for k, v in (("Status", state), ("MFADelete", mfa)) if v is not None}
    versioning = Versioning.from_api(response)
    assert versioning.enabled == (state == "Enabled")
    assert versioning.mfa_delete_enabled == (mfa == "Enabled")
    assert versioning.summary()["MFADelete"] == (mfa or "not reported")


def test_default_encryption_reads_the_kms_key() -> None:
    response = {"ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:eu-west-1:1:key/mrk-1"}}]}}
    encryption = DefaultEncryption.from_api(response)
    assert encryption.uses_kms
    assert encryption.kms_key_id == "arn:aws:kms:eu-west-1:1:key/mrk-1"
    assert not DefaultEncryption.from_api(None).uses_kms
    assert not DefaultEncryption.from_api({"ServerSideEncryptionConfiguration": {"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}).uses_kms


def test_regions_from_location_and_arns() -> None:
    assert location_region(None) == "us-east-1"
    assert location_region("") == "us-east-1"
    assert location_region("EU") == "eu-west-1"
    assert location_region("eu-central-1") == "eu-central-1"
    assert arn_region("arn:aws:kms:eu-central-1:123456789012:key/mrk-1") == "eu-central-1"
    assert arn_region("arn:aws:s3:::bucket") is None
    assert arn_region("mrk-1") is None
    assert arn_region("arn:aws:kms") is None


def test_a_v1_rule_with_an_empty_prefix_covers_every_object_and_carries_delete_markers() -> None:
    v1 = {"ID": "legacy", "Prefix": "", "Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::dr"}}
    rule = ReplicationRule.from_api(v1)
    assert rule.is_v1
    assert rule.covers_all_objects
    assert rule.replicates_delete_markers
    assert not ReplicationRule.from_api({**v1, "Prefix": "tmp/"}).covers_all_objects


@pytest.mark.parametrize(("storage_class", "readable"), [
    (None, True), ("STANDARD_IA", True), ("GLACIER_IR", True), ("GLACIER", False), ("DEEP_ARCHIVE", False)])
def test_replicas_in_an_archive_class_are_not_readable_at_once(storage_class: str | None, readable: bool) -> None:
    destination: dict[str, Any] = {"Bucket": "arn:aws:s3:::dr"}
    if storage_class:
        destination["StorageClass"] = storage_class
    rule = ReplicationRule.from_api({"ID": "r", "Status": "Enabled", "Filter": {}, "Destination": destination})
    assert rule.readable_at_once is readable


def test_metrics_are_on_with_metrics_or_replication_time_control() -> None:
    def rule(destination: dict[str, Any]) -> ReplicationRule:
        return ReplicationRule.from_api({"ID": "r", "Status": "Enabled", "Filter": {},
                                         "Destination": {"Bucket": "arn:aws:s3:::dr", **destination}})

    assert rule({"Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}).metrics_enabled
    assert rule({"ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}}}).metrics_enabled
    assert not rule({"Metrics": {"Status": "Disabled"}}).metrics_enabled
    assert not rule({}).metrics_enabled


def test_prefix_rules_cover_the_state_keys_under_their_prefix() -> None:
    rule = ReplicationRule.from_api({"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "terraform/"},
                                     "Destination": {"Bucket": "arn:aws:s3:::dr"}})
    assert rule.covers_keys(["terraform/network.tfstate", "terraform/env:/"])
    assert not rule.covers_keys(["terraform/network.tfstate", "env:/"])


def _trust(*statements: dict[str, Any]) -> TrustPolicy:
    return TrustPolicy.from_document({"Version": "2012-10-17", "Statement": list(statements)})


S3_ASSUME = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}


def test_a_role_trusts_s3_only_through_an_allow_naming_the_service() -> None:
    assert trusts_service(_trust(S3_ASSUME), "s3.amazonaws.com")
    assert trusts_service(_trust({**S3_ASSUME, "Principal": {"Service": ["ec2.amazonaws.com", "s3.amazonaws.com"]},
                                  "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}),
                          "s3.amazonaws.com")
    assert not trusts_service(_trust({**S3_ASSUME, "Principal": {"Service": "ec2.amazonaws.com"}}), "s3.amazonaws.com")
    assert not trusts_service(_trust(S3_ASSUME, {**S3_ASSUME, "Effect": "Deny"}), "s3.amazonaws.com")
    assert not trusts_service(_trust({**S3_ASSUME, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}),
                              "s3.amazonaws.com")


def _lifecycle(*rules: dict[str, Any]) -> Lifecycle:
    return Lifecycle.from_api({"Rules": list(rules)})


def test_a_replica_may_not_expire_current_versions_sooner_than_its_source() -> None:
    thirty = {"ID": "30d", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 30}}
    ninety = {"ID": "90d", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 90}}
    assert _lifecycle(thirty).expires_sooner_than(_lifecycle())
    assert _lifecycle(thirty).expires_sooner_than(_lifecycle(ninety))
    assert not _lifecycle(ninety).expires_sooner_than(_lifecycle(thirty))
    assert not _lifecycle(thirty).expires_sooner_than(_lifecycle(thirty))
    # A source rule over a narrower scope does not excuse a replica rule over every object.
    assert _lifecycle(thirty).expires_sooner_than(_lifecycle({**thirty, "Filter": {"Prefix": "tmp/"}}))
    # Disabled rules, noncurrent-version expiry and delete-marker clean-up expire no current version.
    assert not _lifecycle({**thirty, "Status": "Disabled"},
                          {"ID": "nc", "Status": "Enabled", "Filter": {}, "NoncurrentVersionExpiration":
                           {"NoncurrentDays": 1}},
                          {"ID": "dm", "Status": "Enabled", "Filter": {},
                           "Expiration": {"ExpiredObjectDeleteMarker": True}}).expires_sooner_than(_lifecycle())
    dated = {"ID": "d", "Status": "Enabled", "Prefix": "", "Expiration": {"Date": datetime(2030, 1, 1, tzinfo=UTC)}}
    assert _lifecycle(dated).expires_sooner_than(_lifecycle())


def test_metric_values_are_read_only_from_complete_answers() -> None:
    complete = [{"Id": "m", "StatusCode": "Complete", "Values": [3.0, 1.0], "Timestamps": []}]
    assert metric_values(complete, "m", "r") == [3.0, 1.0]
    paged = [{"Id": "m", "StatusCode": "PartialData", "Values": [2.0]}, {"Id": "m", "StatusCode": "Complete",
                                                                         "Values": [5.0]}]
    assert metric_values(paged, "m", "r") == [2.0, 5.0]
    for broken in ([{"Id": "m", "StatusCode": "Forbidden", "Values": []}], [],
                   [{"Id": "m", "StatusCode": "PartialData", "Values": [1.0]}]):
        with pytest.raises(Unobservable, match="cloudwatch:GetMetricData"):
            metric_values(broken, "m", "r")
