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


# -- DR-BRK-03: chains, CloudFront, Global Accelerator, IoT Core's custom domain ---------------------------


def _route53(demo: Any) -> Any:
    return boto3.client("route53", region_name="us-east-1", endpoint_url=demo.endpoint_url, aws_access_key_id="t",
                        aws_secret_access_key="t")


def _upsert(demo: Any, *records: dict[str, Any]) -> None:
    """Replace the records of each name given (a name has either a CNAME or other records, never both)."""
    route53, zone = _route53(demo), demo.context.facts["broker"]["zone_id"]
    names = {r["Name"].rstrip(".") for r in records}
    existing = [r for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
                if r["Name"].rstrip(".") in names and r["Type"] in ("A", "AAAA", "CNAME")]
    changes = [{"Action": "DELETE", "ResourceRecordSet": r} for r in existing]
    changes += [{"Action": "CREATE", "ResourceRecordSet": r} for r in records]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})


def _cname(name: str, target: str, ttl: int = 60) -> dict[str, Any]:
    return {"Name": name, "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": target}]}


def _alias(name: str, target: str, zone: str = "Z2FDTNDATAQYW2") -> dict[str, Any]:
    return {"Name": name, "Type": "A", "AliasTarget": {"HostedZoneId": zone, "DNSName": target,
                                                       "EvaluateTargetHealth": False}}


def _server_lb_dns(demo: Any) -> str:
    elbv2 = boto3.client("elbv2", region_name="eu-west-1", endpoint_url=demo.endpoint_url, aws_access_key_id="t",
                         aws_secret_access_key="t")
    arn = demo.context.facts["broker"]["server_load_balancer"]
    return str(elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]["DNSName"])


@pytest.mark.parametrize(("inner_ttl", "status"), [(60, "PASS"), (3600, "FAIL")])
def test_a_cname_chain_through_the_accounts_zone_is_followed(inner_ttl: int, status: str, moto: DemoServer,
                                                             tmp_path: Path) -> None:
    demo = seed(moto.url)
    _upsert(demo, _cname(SERVER_DOMAIN, "edge.demo-corp.example"),
            _cname("edge.demo-corp.example", _server_lb_dns(demo), ttl=inner_ttl))
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-BRK-03,DR-BRK-09")
    result = outcome.result("DR-BRK-03", "SERVER_DOMAIN")
    assert result["status"] == status, result["message"]
    (resolved,) = result["evidence"]["records"][0]["Resolved"]
    assert resolved == {"name": "edge.demo-corp.example", "is": "load balancer",
                        "followed": ["edge.demo-corp.example"], "TTL": inner_ttl}
    if status == "FAIL":
        assert ("CNAME record TTL is 3600 s (the largest along spacelift.demo-corp.example → edge.demo-corp.example)"
                in result["message"])
    # The server's load balancer is still found through its ECS target groups.
    assert outcome.status("DR-BRK-09") == "PASS"


def test_a_chain_that_ends_nowhere_or_loops_fails(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    _upsert(demo, _cname(SERVER_DOMAIN, "a.demo-corp.example"), _cname("a.demo-corp.example", "b.demo-corp.example"),
            _cname("b.demo-corp.example", "a.demo-corp.example"))
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-BRK-03")
    result = outcome.result("DR-BRK-03", "SERVER_DOMAIN")
    assert result["status"] == "FAIL"
    assert "CNAME record points at a.demo-corp.example, which is no load balancer" in result["message"]


@pytest.mark.parametrize("exists", [True, False])
def test_a_cloudfront_distribution_is_a_valid_target(exists: bool, moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    cloudfront = boto3.client("cloudfront", region_name="us-east-1", endpoint_url=moto.url, aws_access_key_id="t",
                              aws_secret_access_key="t")
    origin = {"Id": "server", "DomainName": _server_lb_dns(demo),
              "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}
    distribution = cloudfront.create_distribution(DistributionConfig={
        "CallerReference": "spacelift", "Comment": "", "Enabled": True, "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {"TargetOriginId": "server", "ViewerProtocolPolicy": "redirect-to-https",
                                 "MinTTL": 0, "ForwardedValues": {"QueryString": True,
                                                                  "Cookies": {"Forward": "all"}},
                                 "TrustedSigners": {"Enabled": False, "Quantity": 0}}})["Distribution"]
    target = distribution["DomainName"] if exists else "d111111abcdef8.cloudfront.net"
    _upsert(demo, _alias(SERVER_DOMAIN, target))
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-BRK-03")
    result = outcome.result("DR-BRK-03", "SERVER_DOMAIN")
    assert result["status"] == ("PASS" if exists else "FAIL"), result["message"]
    if exists:
        assert "points at existing CloudFront distribution" in result["message"]


def _accelerators(*names: str) -> list[tuple[str, Any]]:
    """ListAccelerators as AWS answers it (moto has no Global Accelerator)."""

    class _Http:
        status_code = 200
        raw = None

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        return _Http(), {"Accelerators": [
            {"AcceleratorArn": f"arn:aws:globalaccelerator::123456789012:accelerator/{i}", "Name": f"a{i}",
             "IpAddressType": "IPV4", "Enabled": True, "DnsName": name, "Status": "DEPLOYED"}
            for i, name in enumerate(names)], "ResponseMetadata": {"HTTPStatusCode": 200}}

    return [("before-call.global-accelerator.ListAccelerators", answer)]


@pytest.mark.parametrize(("listed", "status"), [(True, "PASS"), (False, "FAIL")])
def test_a_global_accelerator_is_a_valid_target(listed: bool, status: str, moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    accelerator = "a1234567890abcdef.awsglobalaccelerator.com"
    _upsert(demo, _alias(SERVER_DOMAIN, accelerator, zone="Z2BJ6XQ5FK7U4H"))
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-BRK-03",
                         hooks=_accelerators(*([accelerator] if listed else [])))
    result = outcome.result("DR-BRK-03", "SERVER_DOMAIN")
    assert result["status"] == status, result["message"]


def test_an_unreadable_accelerator_list_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url)
    _upsert(demo, _alias(SERVER_DOMAIN, "a1234567890abcdef.awsglobalaccelerator.com", zone="Z2BJ6XQ5FK7U4H"))
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-BRK-03",
                         hooks=denied("ListAccelerators", "global-accelerator", code="AccessDeniedException"))
    result = outcome.result("DR-BRK-03", "SERVER_DOMAIN")
    assert result["status"] == "ERROR"
    assert result["message"].startswith("globalaccelerator:ListAccelerators denied on global accelerators")


def test_iot_core_custom_domain_record_is_checked(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, variant="iotcore"), tmp_path, "--dr-requirement", "DR-BRK-03",
                         hooks=[])
    result = outcome.result("DR-BRK-03", "MQTT_BROKER_ENDPOINT")
    assert result["status"] == "PASS", result["message"]
    (record,) = result["evidence"]["records"]
    assert record["Resolved"][0]["is"] == "IoT endpoint"
    assert record["TTL"] == 60


def test_iot_core_custom_domain_with_a_stale_endpoint_or_a_long_ttl_fails(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, variant="iotcore")
    _upsert(demo, _cname("mqtt.demo-corp.example", "zzzzzzzzzzzzzz-ats.iot.eu-west-1.amazonaws.com", ttl=3600))
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-BRK-03")
    result = outcome.result("DR-BRK-03", "MQTT_BROKER_ENDPOINT")
    assert result["status"] == "FAIL"
    assert "points at zzzzzzzzzzzzzz-ats.iot.eu-west-1.amazonaws.com, which is no load balancer" in result["message"]
    assert "CNAME record TTL is 3600 s" in result["message"]


def test_denied_iot_endpoint_read_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    outcome = run_checks(seed(moto.url, variant="iotcore"), tmp_path, "--dr-requirement", "DR-BRK-03",
                         hooks=denied("DescribeEndpoint", "iot", code="AccessDeniedException"))
    result = outcome.result("DR-BRK-03", "MQTT_BROKER_ENDPOINT")
    assert result["status"] == "ERROR"
    assert result["message"].startswith("iot:DescribeEndpoint denied on iot data endpoint in eu-west-1")
