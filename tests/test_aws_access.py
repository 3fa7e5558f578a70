"""The one door to AWS: read-only by construction, one call per distinct read, failures named."""

from __future__ import annotations

import boto3
import botocore.session
import pytest

from spacelift_dr.aws import READ_ONLY_OPERATIONS, AwsAccess, iam_action
from spacelift_dr.demo import DemoServer
from spacelift_dr.errors import ReadOnlyViolation, Unobservable
from tests.scenario import aws_environment, denied


def seeded_bucket(moto: DemoServer, name: str = "probe-bucket") -> str:
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=moto.url,
                      aws_access_key_id="t", aws_secret_access_key="t")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return name


def access_to(moto: DemoServer, **kwargs: object) -> AwsAccess:
    session = boto3.Session(aws_access_key_id="t", aws_secret_access_key="t")
    return AwsAccess(session, endpoint_url=moto.url, **kwargs)  # type: ignore[arg-type]


def test_a_write_is_refused_before_it_reaches_the_server(moto: DemoServer) -> None:
    bucket = seeded_bucket(moto)
    access = access_to(moto)
    sent: list[str] = []
    client = access.client("s3", "eu-west-1")
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))

    with pytest.raises(ReadOnlyViolation, match="s3:PutBucketVersioning"):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(ReadOnlyViolation, match="s3:DeleteBucket"):
        access.call("s3", "eu-west-1", "DeleteBucket", resource=bucket, Bucket=bucket)

    assert sent == []
    status = boto3.client("s3", region_name="eu-west-1", endpoint_url=moto.url, aws_access_key_id="t",
                          aws_secret_access_key="t").get_bucket_versioning(Bucket=bucket).get("Status")
    assert status is None, "the write must not have reached the server"


def test_reads_are_allowed_and_sent(moto: DemoServer) -> None:
    bucket = seeded_bucket(moto)
    response = access_to(moto).call("s3", "eu-west-1", "GetBucketVersioning", resource=bucket, Bucket=bucket)
    assert response is not None
    assert "Status" not in response


def test_allowlist_holds_only_read_operations_that_exist() -> None:
    session = botocore.session.get_session()
    for service, operations in READ_ONLY_OPERATIONS.items():
        known = set(session.get_service_model(service).operation_names)
        for operation in operations:
            # SimulatePrincipalPolicy evaluates policies and changes nothing (DR-SVC-05).
            assert operation.startswith(("Get", "Describe", "List", "Head")) or \
                (service, operation) == ("iam", "SimulatePrincipalPolicy"), f"{service}:{operation}"
            assert operation in known, f"{service}:{operation} is not an operation of {service}"


def test_a_distinct_read_is_made_once_per_run(moto: DemoServer) -> None:
    bucket = seeded_bucket(moto)
    access = access_to(moto)
    first = access.call("s3", "eu-west-1", "GetBucketLocation", resource=bucket, Bucket=bucket)
    second = access.call("s3", "eu-west-1", "GetBucketLocation", resource=bucket, Bucket=bucket)
    assert first is second
    summary = access.calls.summary()
    assert summary["total"] == 1
    assert summary["distinct"] == 1
    assert summary["cache_hits"] == 1
    assert summary["by_action"] == {"s3:GetBucketLocation": 1}


def test_denied_read_is_unobservable_naming_iam_action_and_resource(moto: DemoServer) -> None:
    bucket = seeded_bucket(moto)
    access = access_to(moto)
    for event, handler in denied("GetBucketReplication", "s3"):
        access.add_event_hook(event, handler)
    with pytest.raises(Unobservable) as raised:
        access.call("s3", "eu-west-1", "GetBucketReplication", resource=bucket, Bucket=bucket)
    assert str(raised.value).startswith(f"s3:GetReplicationConfiguration denied on {bucket}")
    # The failure is cached too: a second check needing the same fact gets the same ERROR, no new call.
    with pytest.raises(Unobservable):
        access.call("s3", "eu-west-1", "GetBucketReplication", resource=bucket, Bucket=bucket)
    assert access.calls.total == 1


def test_throttling_past_retries_is_named(moto: DemoServer) -> None:
    bucket = seeded_bucket(moto)
    access = access_to(moto)
    for event, handler in denied("GetBucketVersioning", "s3", code="SlowDown"):
        access.add_event_hook(event, handler)
    with pytest.raises(Unobservable, match=f"s3:GetBucketVersioning throttled past retries on {bucket}"):
        access.call("s3", "eu-west-1", "GetBucketVersioning", resource=bucket, Bucket=bucket)


def test_absent_is_an_observation_not_an_error(moto: DemoServer) -> None:
    bucket = seeded_bucket(moto)
    response = access_to(moto).call("s3", "eu-west-1", "GetBucketReplication", resource=bucket,
                                    absent=("ReplicationConfigurationNotFoundError",), Bucket=bucket)
    assert response is None


def test_unreachable_endpoint_is_unobservable() -> None:
    session = boto3.Session(aws_access_key_id="t", aws_secret_access_key="t")
    access = AwsAccess(session, endpoint_url="http://127.0.0.1:9", max_attempts=1, connect_timeout=1)
    with pytest.raises(Unobservable, match="s3:GetBucketVersioning failed on b: endpoint unreachable"):
        access.call("s3", "eu-west-1", "GetBucketVersioning", resource="b", Bucket="b")


def test_standard_chain_and_aws_endpoint_url_are_honoured(moto: DemoServer) -> None:
    bucket = seeded_bucket(moto)
    with aws_environment(moto.url):
        access = AwsAccess(boto3.Session())  # no endpoint given: botocore reads AWS_ENDPOINT_URL
        response = access.call("s3", "eu-west-1", "GetBucketLocation", resource=bucket, Bucket=bucket)
    assert response is not None
    assert response["LocationConstraint"] == "eu-west-1"


def test_iam_action_names_follow_iam_not_the_api() -> None:
    assert iam_action("s3", "GetBucketReplication") == "s3:GetReplicationConfiguration"
    assert iam_action("s3", "HeadBucket") == "s3:ListBucket"
    assert iam_action("elbv2", "DescribeListeners") == "elasticloadbalancing:DescribeListeners"
    assert iam_action("kms", "DescribeKey") == "kms:DescribeKey"
