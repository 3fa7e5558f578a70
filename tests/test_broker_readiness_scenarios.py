"""Broker readiness in the backup region (revision 2 of DR-BRK-05, 07, 09) against a seeded moto server:
PASS when ready, FAIL for what a break breaks, ERROR when a read is denied, and the shapes moto does not
produce (an INVALID server certificate, another serviceType, a TLS listener) through API-shaped answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.demo.broker import SERVER_DOMAIN, certificate
from tests.scenario import Outcome, changed_verdicts, denied, run_checks


def _rewrite(operation: str, service: str, change: Any, region: str | None = None) -> tuple[str, Any]:
    def handler(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if region is None or context.get("client_region") == region:
            change(parsed)
    return (f"after-call.{service}.{operation}", handler)


def _in_backup_region(operation: str, service: str, change: Any) -> list[tuple[str, Any]]:
    """Rewrite ``operation``'s answers in eu-central-1 only (the client's region is noted before the call)."""
    def note(context: dict[str, Any], request_signer: Any, **_: Any) -> None:
        context["client_region"] = request_signer.region_name
    return [(f"before-call.{service}.{operation}", note), _rewrite(operation, service, change, "eu-central-1")]


def test_dr_ready_server_certificate_waits_in_the_backup_region(dr_ready: Outcome) -> None:
    result = dr_ready.result("DR-BRK-09")
    assert result["status"] == "PASS"
    (waiting,) = result["evidence"]["issued_in_backup_region"]
    assert waiting["CertificateArn"].startswith("arn:aws:acm:eu-central-1:")
    assert waiting["Names"] == [SERVER_DOMAIN]
    assert "waits in eu-central-1" in result["message"]
    assert "acm:ListCertificates" in {a["action"] for a in result["actions"]}


def test_no_certificate_in_the_backup_region_fails_only_brk_09(dr_ready: Outcome, moto: DemoServer,
                                                               tmp_path: Path) -> None:
    broken = run_checks(seed(moto.url, ["no-backup-server-certificate"]), tmp_path)
    assert changed_verdicts(dr_ready, broken) == {"DR-BRK-09:SERVER_DOMAIN": "FAIL"}
    assert (f"no ISSUED ACM certificate covering {SERVER_DOMAIN} in eu-central-1 is valid for 30 more days "
            f"(0 ISSUED cover it: none)") in broken.result("DR-BRK-09")["message"]


def test_a_backup_certificate_about_to_expire_does_not_count(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, ["no-backup-server-certificate"])
    pem, key = certificate([f"*.{SERVER_DOMAIN.split('.', 1)[1]}"], 10)
    acm = boto3.client("acm", region_name="eu-central-1", endpoint_url=moto.url, aws_access_key_id="t",
                       aws_secret_access_key="t")
    arn = acm.import_certificate(Certificate=pem, PrivateKey=key)["CertificateArn"]
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-BRK-09")
    result = outcome.result("DR-BRK-09")
    assert result["status"] == "FAIL"
    assert f"(1 ISSUED cover it: {arn} 10 days)" in result["message"]


def test_a_tls_listener_of_a_network_load_balancer_counts(moto: DemoServer, tmp_path: Path) -> None:
    # Some set-ups terminate TLS for the server on a network load balancer: its listener is TLS, not HTTPS.
    def tls(parsed: dict[str, Any]) -> None:
        for listener in parsed.get("Listeners", []):
            if listener.get("Protocol") == "HTTPS":
                listener["Protocol"] = "TLS"

    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-BRK-09",
                         hooks=[_rewrite("DescribeListeners", "elbv2", tls)])
    result = outcome.result("DR-BRK-09")
    assert result["status"] == "PASS", result["message"]
    assert result["evidence"]["tls_listeners"]


def test_denied_certificate_listing_in_the_backup_region_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url), tmp_path, "--dr-requirement", "DR-BRK-09",
                         hooks=denied("ListCertificates", "acm", code="AccessDeniedException"))
    result = outcome.result("DR-BRK-09")
    assert result["status"] == "ERROR"
    assert result["message"].startswith("acm:ListCertificates denied on acm certificates in eu-central-1")


@pytest.mark.parametrize(("change", "message"), [
    ({"serverCertificates": [{"serverCertificateArn": "arn:aws:acm:eu-central-1:123456789012:certificate/x",
                              "serverCertificateStatus": "INVALID",
                              "serverCertificateStatusDetail": "The certificate has expired"}]},
     "spacelift-ab12c's server certificate arn:aws:acm:eu-central-1:123456789012:certificate/x is INVALID "
     "(The certificate has expired)"),
    ({"serviceType": "CREDENTIAL_PROVIDER"}, "spacelift-ab12c serves CREDENTIAL_PROVIDER, not DATA"),
    ({"serverCertificates": []}, "spacelift-ab12c has no server certificate"),
])
def test_iot_domain_the_backup_region_cannot_serve_workers_with_fails(change: dict[str, Any], message: str,
                                                                      moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, variant="iotcore"), tmp_path, "--dr-requirement", "DR-BRK-05",
                         hooks=_in_backup_region("DescribeDomainConfiguration", "iot", lambda p: p.update(change)))
    result = outcome.result("DR-BRK-05")
    assert result["status"] == "FAIL"
    assert f"eu-central-1: no usable domain configuration for mqtt.demo-corp.example ({message})" in result["message"]
    assert "eu-west-1" not in result["message"].split("(expected")[0]


def test_iot_domain_evidence_shows_certificates_and_service_type(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, variant="iotcore"), tmp_path, "--dr-requirement", "DR-BRK-05,DR-BRK-07")
    result = outcome.result("DR-BRK-05")
    assert result["status"] == "PASS"
    for region in ("eu-west-1", "eu-central-1"):
        (configuration,) = result["evidence"]["configurations"][region]
        assert configuration["serviceType"] == "DATA"
        assert [c["serverCertificateStatus"] for c in configuration["serverCertificates"]] == ["VALID"]


def test_denied_policy_listing_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, variant="iotcore"), tmp_path, "--dr-requirement", "DR-BRK-07",
                         hooks=denied("ListAttachedPolicies", "iot", code="AccessDeniedException"))
    result = outcome.result("DR-BRK-07")
    assert result["status"] == "ERROR"
    assert result["message"].startswith("iot:ListAttachedPolicies denied on arn:aws:iot:eu-west-1:")


def test_worker_certificate_without_its_policy_in_the_backup_region_fails(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, ["iot-certificate-policy-missing:backup"], variant="iotcore"), tmp_path,
                         "--dr-requirement", "DR-BRK-07")
    result = outcome.result("DR-BRK-07")
    assert result["status"] == "FAIL"
    assert "1 of 3 worker certificates" in result["message"]
    assert "(ACTIVE without policy spacelift-worker-ab12c)" in result["message"]
