"""Broker (DR-BRK-01 … 09) against a seeded moto server, for both broker variants: PASS when DR-ready,
FAIL for exactly what a mutation breaks, ERROR when a read is denied."""

from __future__ import annotations

from pathlib import Path

import pytest

from spacelift_dr.demo import DemoServer, seed
from tests.scenario import Outcome, denied, run_checks

IOT_CHECKS = ("DR-BRK-04", "DR-BRK-05", "DR-BRK-06", "DR-BRK-07", "DR-BRK-08")


@pytest.fixture(scope="module")
def iotcore_ready(moto_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The whole suite's verdicts on the DR-ready demo with IoT Core as the broker."""
    moto_server.reset()
    outcome = run_checks(seed(moto_server.url, variant="iotcore"), tmp_path_factory.mktemp("iotcore-ready"))
    moto_server.reset()
    return outcome


def broker_verdicts(outcome: Outcome) -> dict[str, str]:
    return {k: v for k, v in outcome.verdicts.items() if k.startswith("DR-BRK")}


def test_dr_ready_builtin_broker_passes_and_iot_checks_are_not_applicable(dr_ready: Outcome) -> None:
    assert broker_verdicts(dr_ready) == {
        "DR-BRK-01:MQTT_BROKER_TYPE": "PASS",
        "DR-BRK-02:SERVER_DOMAIN": "PASS",
        "DR-BRK-02:MQTT_BROKER_ENDPOINT": "PASS",
        "DR-BRK-03:SERVER_DOMAIN": "PASS",
        "DR-BRK-03:MQTT_BROKER_ENDPOINT": "PASS",
        **{f"{req}:MQTT_BROKER_TYPE": "N/A" for req in IOT_CHECKS},
        "DR-BRK-09:SERVER_DOMAIN": "PASS",
    }
    for req in IOT_CHECKS:
        assert dr_ready.result(req)["message"] == "MQTT_BROKER_TYPE is builtin, not iotcore"
    record = dr_ready.result("DR-BRK-03", "MQTT_BROKER_ENDPOINT")["evidence"]["records"]
    assert record == [{"Name": "spacelift-mqtt.demo-corp.example", "Type": "CNAME", "Alias": False, "TTL": 60,
                       "Targets": [record[0]["Targets"][0]], "HostedZone": "demo-corp.example",
                       "PrivateZone": False, "LoadBalancers": ["spacelift-mqtt-ab12c"],
                       "Resolved": [{"name": record[0]["Targets"][0], "is": "load balancer"}]}]


def test_dr_ready_iot_core_passes_and_builtin_names_are_not_applicable(iotcore_ready: Outcome) -> None:
    assert broker_verdicts(iotcore_ready) == {
        "DR-BRK-01:MQTT_BROKER_TYPE": "PASS",
        "DR-BRK-02:SERVER_DOMAIN": "PASS",
        "DR-BRK-02:MQTT_BROKER_ENDPOINT": "N/A",
        "DR-BRK-03:SERVER_DOMAIN": "PASS",
        "DR-BRK-03:MQTT_BROKER_ENDPOINT": "PASS",
        "DR-BRK-04:MQTT_BROKER_ENDPOINT": "PASS",
        "DR-BRK-05:MQTT_BROKER_ENDPOINT": "PASS",
        "DR-BRK-06:AWS_SECONDARY_REGION": "PASS",
        "DR-BRK-07:iot certificates in eu-west-1": "PASS",
        "DR-BRK-08:MESSAGE_QUEUE_TYPE": "PASS",
        "DR-BRK-09:SERVER_DOMAIN": "PASS",
    }
    assert "MQTT_BROKER_TYPE is iotcore" in iotcore_ready.result("DR-BRK-02", "MQTT_BROKER_ENDPOINT")["message"]
    # Three worker certificates, and one ACTIVE certificate without a policy that need not follow.
    assert iotcore_ready.result("DR-BRK-07")["evidence"]["worker_certificates_in_primary"] == 3
    assert iotcore_ready.result("DR-BRK-07")["evidence"]["active_in_primary"] == 4
    # No other area may fail because of the IoT Core variant.
    assert {r["status"] for r in iotcore_ready.results} <= {"PASS", "N/A"}


# mutation → the verdicts it must change (requirement:resource → status); every other verdict unchanged.
BUILTIN_BREAKS: dict[str, dict[str, str]] = {
    # An AWS name is in no zone of the account (N/A) and the certificate does not cover it.
    "server-domain-is-lb-hostname": {"DR-BRK-02:SERVER_DOMAIN": "FAIL", "DR-BRK-03:SERVER_DOMAIN": "N/A",
                                     "DR-BRK-09:SERVER_DOMAIN": "FAIL"},
    "server-record-dangling": {"DR-BRK-03:SERVER_DOMAIN": "FAIL"},
    "mqtt-record-high-ttl": {"DR-BRK-03:MQTT_BROKER_ENDPOINT": "FAIL"},
    "server-certificate-expiring": {"DR-BRK-09:SERVER_DOMAIN": "FAIL"},
    "broker-type-unset:drain": {"DR-BRK-01:MQTT_BROKER_TYPE": "FAIL"},
}

IOTCORE_BREAKS: dict[str, dict[str, str]] = {
    # The default endpoint is no custom domain, so no domain configuration serves it either.
    # The default endpoint is in no zone of the account either: DR-BRK-03 has no record to judge.
    "iot-default-endpoint": {"DR-BRK-04:MQTT_BROKER_ENDPOINT": "FAIL", "DR-BRK-05:MQTT_BROKER_ENDPOINT": "FAIL",
                             "DR-BRK-03:MQTT_BROKER_ENDPOINT": "N/A"},
    "iot-domain-missing:backup": {"DR-BRK-05:MQTT_BROKER_ENDPOINT": "FAIL"},
    "iot-domain-disabled:backup": {"DR-BRK-05:MQTT_BROKER_ENDPOINT": "FAIL"},
    "secondary-region-unset": {"DR-BRK-06:AWS_SECONDARY_REGION": "FAIL"},
    "secondary-region-is-primary": {"DR-BRK-06:AWS_SECONDARY_REGION": "FAIL"},
    "iot-certificate-missing:backup": {"DR-BRK-07:iot certificates in eu-west-1": "FAIL"},
    "iot-certificate-policy-missing:backup": {"DR-BRK-07:iot certificates in eu-west-1": "FAIL"},
    "iot-postgres-queue": {"DR-BRK-08:MESSAGE_QUEUE_TYPE": "FAIL"},
}


def assert_changes_exactly(broken: Outcome, baseline: Outcome, expected: dict[str, str]) -> None:
    assert broken.verdicts.keys() == baseline.verdicts.keys()
    changed = {k: v for k, v in broken.verdicts.items() if baseline.verdicts[k] != v}
    assert changed == expected
    assert broken.exit_code == 1
    for key, status in expected.items():
        result = next(r for r in broken.results if r["id"] == key)
        assert result["message"], "a FAIL or N/A states what was observed"
        if status == "FAIL":
            assert result["evidence"], "a FAIL carries its evidence"


# What the SRE reads: the observed value and the expectation.
BUILTIN_MESSAGES = {
    "server-domain-is-lb-hostname": ("DR-BRK-02:SERVER_DOMAIN", "SERVER_DOMAIN host server-lb-ab12c-1.eu-west-1.elb."
                                     "amazonaws.com is a name AWS generated for one region's resource"),
    "server-record-dangling": ("DR-BRK-03:SERVER_DOMAIN", "A record points at server-lb-ab12c-0123456789.eu-west-1."
                               "elb.amazonaws.com, which is no load balancer in eu-west-1 or eu-central-1"),
    "mqtt-record-high-ttl": ("DR-BRK-03:MQTT_BROKER_ENDPOINT", "CNAME record TTL is 3600 s (expected alias or CNAME "
                             "records to existing targets with TTL ≤ 300 s)"),
    "server-certificate-expiring": ("DR-BRK-09:SERVER_DOMAIN", "the certificate for spacelift.demo-corp.example is "
                                    "ISSUED and valid for 10 more days, expected ISSUED and at least 30"),
    "broker-type-unset:drain": ("DR-BRK-01:MQTT_BROKER_TYPE", "MQTT_BROKER_TYPE is builtin on server, unset on "
                                "drain, expected builtin or iotcore on each of server, drain"),
}


@pytest.mark.parametrize("mutation", sorted(BUILTIN_BREAKS))
def test_builtin_mutation_fails_exactly_what_it_breaks(mutation: str, dr_ready: Outcome, moto: DemoServer,
                                                       tmp_path: Path) -> None:
    broken = run_checks(seed(moto.url, [mutation]), tmp_path)
    assert_changes_exactly(broken, dr_ready, BUILTIN_BREAKS[mutation])
    key, text = BUILTIN_MESSAGES[mutation]
    assert text in next(r["message"] for r in broken.results if r["id"] == key)


@pytest.mark.parametrize("mutation", sorted(IOTCORE_BREAKS))
def test_iotcore_mutation_fails_exactly_what_it_breaks(mutation: str, iotcore_ready: Outcome, moto: DemoServer,
                                                       tmp_path: Path) -> None:
    broken = run_checks(seed(moto.url, [mutation], variant="iotcore"), tmp_path)
    assert_changes_exactly(broken, iotcore_ready, IOTCORE_BREAKS[mutation])


def test_policy_thresholds_decide_ttl_and_certificate_days(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "broker",
                         overrides={"policy": {"dns_max_ttl_seconds": 30, "certificate_min_days_valid": 400}})
    # An alias counts as 60 s and the CNAME has 60 s: both above 30. The certificate has 397 days.
    assert outcome.status("DR-BRK-03", "SERVER_DOMAIN") == "FAIL"
    assert outcome.status("DR-BRK-03", "MQTT_BROKER_ENDPOINT") == "FAIL"
    assert outcome.status("DR-BRK-09") == "FAIL"


# One denied read per run (a denial hides the reads after it); together they cover every broker read.
@pytest.mark.parametrize(("operation", "service", "expected_errors"), [
    ("ListResourceRecordSets", "route53", {"DR-BRK-03:SERVER_DOMAIN", "DR-BRK-03:MQTT_BROKER_ENDPOINT"}),
    ("DescribeLoadBalancers", "elbv2", {"DR-BRK-03:SERVER_DOMAIN", "DR-BRK-03:MQTT_BROKER_ENDPOINT",
                                        "DR-BRK-09:SERVER_DOMAIN"}),
    ("DescribeListeners", "elbv2", {"DR-BRK-09:SERVER_DOMAIN"}),
    ("DescribeCertificate", "acm", {"DR-BRK-09:SERVER_DOMAIN"}),
])
def test_denied_builtin_reads_are_errors(operation: str, service: str, expected_errors: set[str],
                                         moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "broker", hooks=denied(operation, service))
    errors = {r["id"]: r["message"] for r in outcome.results if r["status"] == "ERROR"}
    assert errors.keys() == expected_errors
    prefix = "elasticloadbalancing" if service == "elbv2" else service
    assert all(f"{prefix}:{operation} denied" in message for message in errors.values())
    assert {r["status"] for r in outcome.results} <= {"PASS", "N/A", "ERROR"}


def test_denied_iot_reads_are_errors(moto: DemoServer, tmp_path: Path) -> None:
    hooks = [*denied("ListDomainConfigurations", "iot"),
             *denied("ListCertificates", "iot", code="AccessDeniedException")]
    outcome = run_checks(seed(moto.url, variant="iotcore"), tmp_path, "-m", "broker", hooks=hooks)
    errors = {r["requirement"]: r["message"] for r in outcome.results if r["status"] == "ERROR"}
    assert errors.keys() == {"DR-BRK-05", "DR-BRK-07"}
    assert errors["DR-BRK-05"].startswith("iot:ListDomainConfigurations denied on iot domain configurations in ")
    assert errors["DR-BRK-07"].startswith("iot:ListCertificates denied on iot certificates in eu-west-1")
    assert outcome.status("DR-BRK-06") == "PASS"


def test_unreadable_settings_make_every_broker_check_an_error(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "broker", hooks=denied("DescribeServices", "ecs"))
    assert len(outcome.results) == 11
    assert {r["status"] for r in outcome.results} == {"ERROR"}
    assert all("ecs:DescribeServices denied" in r["message"] for r in outcome.results)


def test_no_worker_certificate_in_the_primary_is_not_a_pass(moto: DemoServer, tmp_path: Path) -> None:
    def none_listed(parsed: dict[str, object], **_: object) -> None:
        parsed["certificates"] = []  # an installation no worker has registered with yet (API-shaped)

    outcome = run_checks(seed(moto.url, variant="iotcore"), tmp_path, "--dr-requirement", "DR-BRK-07",
                         hooks=[("after-call.iot.ListCertificates", none_listed)])
    result = outcome.result("DR-BRK-07")
    assert result["status"] == "N/A", result["message"]
    assert "no ACTIVE worker certificate" in result["message"]
