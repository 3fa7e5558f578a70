"""A ``200`` answer that is not a complete answer of the operation's shape is ERROR, never an empty truth.

botocore parses an empty body as ``{}`` and a cut JSON body as ``{"message": …}``: both read as "there is
none", so a truncated ``iot:ListCertificates`` once made DR-BRK-07 PASS on "all 0 certificates". The
fault proxy (``tests.faults.FaultProxy``) spoils one operation's answers on the wire at a time; no
verdict that rests on it may then be anything but ERROR naming the action.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.aws import (
    READ_ONLY_OPERATIONS,
    SECRET_VALUE_READ,
    IncompleteAnswer,
    check_answer_framing,
    iam_action,
    missing_required,
)
from spacelift_dr.demo import Demo, DemoServer, seed
from tests.faults import FaultProxy
from tests.scenario import Outcome, run_checks

_SESSION = botocore.session.get_session()
ALLOWLIST = sorted({(svc, op) for table in (READ_ONLY_OPERATIONS, SECRET_VALUE_READ)
                    for svc, ops in table.items() for op in ops})


def _model(service: str, operation: str) -> Any:
    return _SESSION.get_service_model(service).operation_model(operation)


def _answer(body: bytes, length: int | None = None) -> dict[str, Any]:
    return {"status_code": 200, "body": body,
            "headers": {"content-length": str(len(body) if length is None else length)}}


def _has_body(service: str, operation: str) -> bool:
    shape = _model(service, operation).output_shape
    return shape is not None and any(m.serialization.get("location") not in {"header", "headers", "statusCode"}
                                     for m in shape.members.values())


@pytest.mark.parametrize(("service", "operation"), [o for o in ALLOWLIST if _has_body(*o)])
def test_an_empty_success_answer_is_incomplete_for_every_allowlisted_read(service: str, operation: str) -> None:
    with pytest.raises(IncompleteAnswer, match="empty answer"):
        check_answer_framing(_model(service, operation), _answer(b""))


@pytest.mark.parametrize(("service", "operation"), [o for o in ALLOWLIST if _model(*o).http["method"] != "HEAD"])
@given(body=st.binary(min_size=2, max_size=200), data=st.data())
def test_a_body_shorter_than_its_content_length_is_incomplete(service: str, operation: str, body: bytes,
                                                              data: st.DataObject) -> None:
    kept = data.draw(st.integers(0, len(body) - 1))
    with pytest.raises(IncompleteAnswer, match="cut short"):
        check_answer_framing(_model(service, operation), _answer(body[:kept], length=len(body)))


_JSON_READS = [o for o in ALLOWLIST if _model(*o).metadata["protocol"] in ("json", "rest-json") and _has_body(*o)]
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=8)


@pytest.mark.parametrize(("service", "operation"), _JSON_READS)
@given(document=st.dictionaries(st.text(min_size=1, max_size=8), _JSON, min_size=1, max_size=4), data=st.data())
def test_a_json_answer_cut_anywhere_is_not_an_answer(service: str, operation: str, document: dict[str, Any],
                                                     data: st.DataObject) -> None:
    body = json.dumps(document).encode()
    cut = body[:data.draw(st.integers(1, len(body) - 1))]
    with pytest.raises(IncompleteAnswer):
        check_answer_framing(_model(service, operation), _answer(cut))  # well framed, not well formed
    check_answer_framing(_model(service, operation), _answer(body))  # the whole answer is accepted


def _required_collections(service: str, operation: str) -> list[str]:
    shape = _model(service, operation).output_shape
    if shape is None:
        return []
    return [n for n in shape.required_members if shape.members[n].type_name in {"list", "map", "structure"}]


@pytest.mark.parametrize(("service", "operation"), [o for o in ALLOWLIST if _required_collections(*o)])
def test_an_answer_without_a_required_collection_is_incomplete(service: str, operation: str) -> None:
    shape = _model(service, operation).output_shape
    for name in _required_collections(service, operation):
        complete = {n: [] if shape.members[n].type_name == "list" else {} for n in _required_collections(service,
                                                                                                          operation)}
        assert name not in missing_required(shape, complete)
        del complete[name]
        assert name in missing_required(shape, complete)


# -- the fault proxy, one operation at a time -------------------------------------------------------

# Every read the demo installation (IoT Core variant) makes, as botocore names it on the wire, with one
# fault kind each (kinds rotate, so each kind meets reads of every protocol).
DEMO_READS = [
    ("acm", "DescribeCertificate"), ("backup", "ListBackupPlans"), ("ecr", "DescribeRegistry"),
    ("ecs", "DescribeServices"), ("ecs", "DescribeTaskDefinition"), ("elbv2", "DescribeListenerCertificates"),
    ("elbv2", "DescribeListeners"), ("elbv2", "DescribeLoadBalancers"), ("elbv2", "DescribeTargetGroups"),
    ("iam", "GetRole"), ("iam", "ListAttachedRolePolicies"), ("iam", "ListRolePolicies"),
    ("iot", "DescribeDomainConfiguration"), ("iot", "ListCertificates"), ("iot", "ListDomainConfigurations"),
    ("kms", "DescribeKey"), ("kms", "GetKeyRotationStatus"), ("rds", "DescribeDBClusterSnapshots"),
    ("rds", "DescribeDBClusters"), ("rds", "DescribeGlobalClusters"), ("route53", "ListHostedZones"),
    ("route53", "ListResourceRecordSets"), ("s3", "GetBucketLocation"), ("s3", "GetBucketVersioning"),
    ("s3", "GetBucketReplication"), ("s3", "GetBucketEncryption"), ("s3", "HeadBucket"),
    ("secretsmanager", "DescribeSecret"), ("sqs", "GetQueueAttributes"),
    # Reads issues 15 and 16 added (recovery points, lifecycle, images, parameters, certificates, IoT).
    ("acm", "ListCertificates"), ("cloudwatch", "GetMetricData"), ("ecr", "DescribeImages"),
    ("iot", "DescribeEndpoint"), ("iot", "ListAttachedPolicies"), ("s3", "GetBucketLifecycleConfiguration"),
    ("ssm", "DescribeParameters"), ("iam", "SimulatePrincipalPolicy"),
]
# No 200 answer of these reaches the wire for the proxy to spoil: the demo answers SimulatePrincipalPolicy
# before sending (moto has none), and moto answers the lifecycle read with an error that the demo replaces
# with the configuration it seeded (moto keeps no lifecycle expirations).
ANSWERED_BY_DEMO = {("iam", "SimulatePrincipalPolicy"), ("s3", "GetBucketLifecycleConfiguration")}
KINDS = ("truncate", "empty", "cut")
FAULTS = [(svc, op, KINDS[i % len(KINDS)]) for i, (svc, op) in enumerate(DEMO_READS)
          if (svc, op) not in ANSWERED_BY_DEMO]


@pytest.fixture(scope="module")
def proxied(moto_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultProxy, Demo]]:
    moto_server.reset()
    demo = seed(moto_server.url, variant="iotcore")
    saved = os.environ.get("AWS_MAX_ATTEMPTS")
    os.environ["AWS_MAX_ATTEMPTS"] = "2"  # S3 retries a cut answer as a 500: bound what that costs
    with FaultProxy(moto_server.url) as proxy:
        yield proxy, Demo(proxy.url, demo.context)
    if saved is None:
        os.environ.pop("AWS_MAX_ATTEMPTS", None)
    else:
        os.environ["AWS_MAX_ATTEMPTS"] = saved
    moto_server.reset()


@pytest.fixture(scope="module")
def clean(proxied: tuple[FaultProxy, Demo], tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    proxy, demo = proxied
    proxy.fault = None
    return run_checks(demo, tmp_path_factory.mktemp("clean"), hooks=[proxy.hook])


def test_the_fault_list_is_every_read_the_demo_makes(clean: Outcome) -> None:
    made = set(clean.document["api_calls"]["by_action"]) - {"sts:GetCallerIdentity"}
    assert made == {iam_action(svc, op) for svc, op in DEMO_READS}
    assert set(clean.verdicts.values()) <= {"PASS", "N/A"}


@pytest.mark.parametrize(("service", "operation", "kind"), FAULTS)
def test_a_spoiled_answer_turns_what_rests_on_it_into_error(service: str, operation: str, kind: str,
                                                            proxied: tuple[FaultProxy, Demo], clean: Outcome,
                                                            tmp_path: Path) -> None:
    proxy, demo = proxied
    action = iam_action(service, operation)
    resting: dict[str, set[str]] = defaultdict(set)
    for result in clean.results:
        for entry in result["actions"]:
            resting[entry["action"]].add(result["requirement"])
    # At most four of the requirements that rest on it, PASSes first: each spoiled read costs one short
    # run, not a whole one (ECS discovery underlies nearly every check).
    passing = {r["requirement"] for r in clean.results if r["status"] == "PASS"}
    requirements = sorted(resting[action], key=lambda req: (req not in passing, req))[:4]
    assert requirements, f"no result of the clean run rests on {action}"
    service_id = _SESSION.get_service_model(service).service_id.hyphenize()
    proxy.fault = (f"{service_id}.{operation}", kind)
    proxy.spoiled = 0
    try:
        outcome = run_checks(demo, tmp_path, f"--dr-requirement={','.join(requirements)}", hooks=[proxy.hook])
    finally:
        proxy.fault = None
    assert proxy.spoiled >= 1
    assert outcome.results
    clean_by_id = {r["id"]: r for r in clean.results}
    for result in outcome.results:
        before = clean.verdicts.get(result["id"], "")
        if result["status"] == "ERROR":
            assert action in result["message"] or "500" in result["message"], result["message"]
        elif result["id"] in clean_by_id and any(entry["action"] == action
                                                 for entry in clean_by_id[result["id"]]["actions"]):
            # A verdict that some other observation settles (a global cluster found, so the backup
            # plans do not matter) may stand, word for word; anything else read the spoiled answer.
            assert (result["status"], result["message"]) == (before, clean_by_id[result["id"]]["message"]), \
                result["id"]
        else:
            assert result["status"] == before, (result["id"], result["message"])
