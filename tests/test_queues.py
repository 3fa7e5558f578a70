"""DR-QUE-01: postgres queues PASS with their rationale; SQS queues must all exist (moto serves this)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.facts.queues import QueueType, configured_queues, queue_name, queue_region, queue_url_settings
from spacelift_dr.installation import Container, Installation, Service
from tests.scenario import Outcome, denied, run_checks

QUE = ("--dr-requirement", "DR-QUE-01")


@given(region=st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2", "cn-north-1"]),
       name=st.from_regex(r"[a-z][a-z0-9-]{0,30}(\.fifo)?", fullmatch=True))
def test_queue_url_names_its_region_and_queue(region: str, name: str) -> None:
    suffix = ".cn" if region.startswith("cn-") else ""
    assert queue_region(f"https://sqs.{region}.amazonaws.com{suffix}/123456789012/{name}", "x") == region
    assert queue_region(f"https://{region}.queue.amazonaws.com/123456789012/{name}", "x") == region
    assert queue_region(f"http://localhost:4566/000000000000/{name}", "eu-west-1") == "eu-west-1"
    assert queue_name(f"https://sqs.{region}.amazonaws.com/123456789012/{name}") == name


def test_only_queue_url_settings_count() -> None:
    names = {"MESSAGE_QUEUE_TYPE", "MESSAGE_QUEUE_SQS_ASYNC_URL", "MESSAGE_QUEUE_SQS_DLQ_FIFO_URL",
             "OBJECT_STORAGE_BUCKET_UPLOADS_URL", "MESSAGE_QUEUE_SQS_URL"}
    assert queue_url_settings(names) == ["MESSAGE_QUEUE_SQS_ASYNC_URL", "MESSAGE_QUEUE_SQS_DLQ_FIFO_URL"]


def test_queue_type_must_be_one_and_set_everywhere() -> None:
    assert QueueType({"server": "sqs", "drain": "sqs", "scheduler": "sqs"}).value == "sqs"
    assert QueueType({"server": "sqs", "drain": "postgres"}).value is None
    assert QueueType({"server": "postgres", "drain": None}).value is None


def test_postgres_queues_pass_with_the_rationale(dr_ready: Outcome) -> None:
    result = dr_ready.result("DR-QUE-01")
    assert result["status"] == "PASS"
    assert "queue data lives in the database" in result["message"]
    assert result["evidence"]["MESSAGE_QUEUE_TYPE"] == {"server": "postgres", "drain": "postgres",
                                                        "scheduler": "postgres"}


@pytest.fixture
def iotcore(moto: DemoServer, tmp_path: Path) -> Outcome:
    return run_checks(seed(moto.url, variant="iotcore"), tmp_path, *QUE)


def test_sqs_queues_that_all_exist_pass(iotcore: Outcome) -> None:
    result = iotcore.result("DR-QUE-01")
    assert result["status"] == "PASS", result["message"]
    queues = result["evidence"]["queues"]
    assert len(queues) == 8  # five for every service, and the drain's dead-letter and IoT queues
    assert all(q["exists"] for q in queues.values())
    # Besides the discovery reads every installation check rests on, the queue reads and nothing else.
    assert {a["action"] for a in result["actions"]} - {"ecs:DescribeServices", "ecs:DescribeTaskDefinition"} == \
        {"sqs:GetQueueAttributes"}


def test_missing_sqs_queue_fails(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, ["sqs-queue-missing"], variant="iotcore"), tmp_path, *QUE)
    result = outcome.result("DR-QUE-01")
    assert result["status"] == "FAIL"
    assert result["message"] == ("no such SQS queue for MESSAGE_QUEUE_SQS_WEBHOOKS_URL (spacelift-webhooks), "
                                 "expected every configured queue to exist")
    assert result["evidence"]["queues"]["MESSAGE_QUEUE_SQS_WEBHOOKS_URL"]["exists"] is False


def test_denied_queue_read_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, variant="iotcore"), tmp_path, *QUE,
                         hooks=denied("GetQueueAttributes", "sqs", code="AccessDenied"))
    result = outcome.result("DR-QUE-01")
    assert result["status"] == "ERROR"
    assert result["message"].startswith("sqs:GetQueueAttributes denied on spacelift-")


def test_unknown_queue_type_fails(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, *QUE,
                         overrides={"installation": {"settings": {"MESSAGE_QUEUE_TYPE": "kafka"}}})
    result = outcome.result("DR-QUE-01")
    assert result["status"] == "FAIL"
    assert result["message"] == "MESSAGE_QUEUE_TYPE is kafka, expected postgres or sqs"


def _service(role: str, environment: dict[str, str]) -> Service:
    return Service(role, role, f"arn:td/{role}", (Container(role, "image", environment, {}),))


def test_every_url_any_service_is_given_is_checked() -> None:
    installation = Installation("demo", "eu-west-1", "eu-central-1", None, (), services={
        "server": _service("server", {"MESSAGE_QUEUE_SQS_ASYNC_URL": "https://sqs.eu-west-1.amazonaws.com/1/a"}),
        "drain": _service("drain", {"MESSAGE_QUEUE_SQS_ASYNC_URL": "https://sqs.eu-west-1.amazonaws.com/1/b",
                                    "MESSAGE_QUEUE_SQS_DLQ_URL": "https://sqs.eu-west-1.amazonaws.com/1/dlq",
                                    "MESSAGE_QUEUE_SQS_IOT_URL": ""}),
    })
    assert configured_queues(installation) == {
        "MESSAGE_QUEUE_SQS_ASYNC_URL": ["https://sqs.eu-west-1.amazonaws.com/1/a",
                                        "https://sqs.eu-west-1.amazonaws.com/1/b"],
        "MESSAGE_QUEUE_SQS_DLQ_URL": ["https://sqs.eu-west-1.amazonaws.com/1/dlq"],
    }
