"""Broker facts on API-shaped data: names, wildcards, records, certificates and IoT pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.aws import AwsAccess
from spacelift_dr.facts.broker import (
    AcmCertificate,
    BrokerFacts,
    BrokerSettings,
    DomainConfiguration,
    HostedZone,
    IotCertificate,
    RecordSet,
    host_of,
    in_zone,
    is_iot_default_endpoint,
    is_provider_generated,
    missing_in,
    most_specific_zones,
    name_covers,
)
from spacelift_dr.installation import Installation

label = st.from_regex(r"[a-z][a-z0-9-]{0,14}[a-z0-9]", fullmatch=True)
domain = st.lists(label, min_size=2, max_size=4).map(".".join)
region = st.sampled_from(["eu-west-1", "eu-central-1", "us-east-1", "ap-southeast-2", "us-gov-west-1"])


# -- names ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "host"), [
    ("tls://spacelift-mqtt.example.com:1984", "spacelift-mqtt.example.com"),
    ("mqtt.example.com", "mqtt.example.com"),
    ("MQTT.Example.com.", "mqtt.example.com"),
    ("spacelift.example.com:443", "spacelift.example.com"),
    ("https://spacelift.example.com/", "spacelift.example.com"),
    ("", None),
    (None, None),
])
def test_host_of_setting(value: str | None, host: str | None) -> None:
    assert host_of(value) == host


@pytest.mark.parametrize(("host", "generated"), [
    ("server-lb-ab12c-123.eu-west-1.elb.amazonaws.com", True),
    ("a1b2c3-ats.iot.eu-west-1.amazonaws.com", True),
    ("internal-x.cn-north-1.elb.amazonaws.com.cn", True),
    ("spacelift.demo-corp.example", False),
    ("amazonaws.com.example.org", False),
    ("notamazonaws.com", False),
])
def test_provider_generated_names(host: str, generated: bool) -> None:
    assert is_provider_generated(host) is generated


@given(prefix=st.from_regex(r"[a-z0-9]{14}", fullmatch=True), region=region, ats=st.booleans())
def test_every_default_iot_endpoint_is_recognised(prefix: str, region: str, ats: bool) -> None:
    host = f"{prefix}{'-ats' if ats else ''}.iot.{region}.amazonaws.com"
    assert is_iot_default_endpoint(host)
    assert is_provider_generated(host)


@given(name=domain)
def test_custom_domains_are_not_default_iot_endpoints(name: str) -> None:
    assert not is_iot_default_endpoint(name)
    assert not is_iot_default_endpoint(f"iot.{name}")


@given(first=label, parent=domain)
def test_wildcard_covers_exactly_one_left_most_label(first: str, parent: str) -> None:
    assert name_covers(f"*.{parent}", f"{first}.{parent}")
    assert name_covers(f"*.{parent}", f"{first}.{parent}".upper())
    assert not name_covers(f"*.{parent}", parent)
    assert not name_covers(f"*.{parent}", f"x.{first}.{parent}")
    assert name_covers(f"{first}.{parent}", f"{first}.{parent}.")
    assert not name_covers(f"{first}.{parent}", f"x{first}.{parent}")


@pytest.mark.parametrize(("pattern", "name"), [
    ("f*.example.com", "foo.example.com"),  # partial wildcards are not valid in ACM
    ("*.*.example.com", "a.b.example.com"),
    ("*", "localhost"),
    ("a.*.example.com", "a.b.example.com"),
])
def test_malformed_wildcards_cover_nothing(pattern: str, name: str) -> None:
    assert not name_covers(pattern, name)


@given(name=domain, zone=domain)
def test_zone_membership_is_label_wise(name: str, zone: str) -> None:
    assert in_zone(f"{name}.{zone}", zone)
    assert in_zone(zone, zone)
    assert not in_zone(f"x{zone}", zone)


def test_most_specific_zones_keeps_public_and_private_zone_of_the_longest_name() -> None:
    zones = [HostedZone("Z1", "example.com", False), HostedZone("Z2", "corp.example.com", False),
             HostedZone("Z3", "corp.example.com", True), HostedZone("Z4", "other.com", False)]
    assert [z.id for z in most_specific_zones("spacelift.corp.example.com", zones)] == ["Z2", "Z3"]
    assert [z.id for z in most_specific_zones("www.example.com", zones)] == ["Z1"]
    assert most_specific_zones("example.org", zones) == []


# -- records, certificates, IoT -----------------------------------------------------------------------

def test_alias_records_count_as_sixty_seconds_and_lose_the_dualstack_prefix() -> None:
    alias = RecordSet.from_api({"Name": "spacelift.example.com.", "Type": "A", "AliasTarget": {
        "HostedZoneId": "Z32O12XQLNTSW2", "DNSName": "dualstack.Server-LB-1.eu-west-1.elb.amazonaws.com.",
        "EvaluateTargetHealth": True}})
    assert alias.ttl == 60
    assert alias.targets == ("server-lb-1.eu-west-1.elb.amazonaws.com",)
    cname = RecordSet.from_api({"Name": "mqtt.example.com.", "Type": "CNAME", "TTL": 3600,
                                "ResourceRecords": [{"Value": "mqtt-lb.eu-west-1.elb.amazonaws.com"}]})
    assert (cname.ttl, cname.alias, cname.routes_traffic) == (3600, False, True)
    assert not RecordSet.from_api({"Name": "example.com.", "Type": "TXT", "TTL": 60,
                                   "ResourceRecords": [{"Value": '"v=spf1"'}]}).routes_traffic


class FakeAws:
    """API-shaped answers per operation, for facts that make several reads."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def paginate(self, service: str, region: str, operation: str, key: str, *, resource: str,
                 absent: Any = (), **params: Any) -> Any:
        self.calls.append((operation, params))
        answer = self.answers[operation]
        return answer(region, params) if callable(answer) else answer

    def call(self, service: str, region: str, operation: str, *, resource: str, absent: Any = (),
             **params: Any) -> Any:
        return self.paginate(service, region, operation, "", resource=resource, **params)


def test_records_to_ip_addresses_or_unknown_load_balancers_are_dangling() -> None:
    aws = FakeAws({
        "ListHostedZones": [{"Id": "/hostedzone/Z1", "Name": "example.com.", "Config": {"PrivateZone": False}}],
        "ListResourceRecordSets": [
            {"Name": "spacelift.example.com.", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "10.0.0.1"}]},
            {"Name": "mqtt.example.com.", "Type": "CNAME", "TTL": 60,
             "ResourceRecords": [{"Value": "gone-123.eu-west-1.elb.amazonaws.com"}]},
            {"Name": "ok.example.com.", "Type": "CNAME", "TTL": 60,
             "ResourceRecords": [{"Value": "live-1.eu-central-1.elb.amazonaws.com"}]},
            {"Name": "\\052.example.com.", "Type": "CNAME", "TTL": 900,
             "ResourceRecords": [{"Value": "live-1.eu-central-1.elb.amazonaws.com"}]},
        ],
        "DescribeLoadBalancers": lambda region, _: [{"LoadBalancerArn": f"arn:{region}", "LoadBalancerName": "live",
                                                    "DNSName": f"live-1.{region}.elb.amazonaws.com",
                                                    "Type": "network"}],
    })
    facts = BrokerFacts(aws, "eu-west-1", "eu-central-1")  # type: ignore[arg-type]
    (ip_route,) = next(iter(facts.routes("spacelift.example.com").values()))
    assert ip_route.dangling_targets == ["10.0.0.1"]
    (gone,) = next(iter(facts.routes("mqtt.example.com").values()))
    assert gone.dangling_targets == ["gone-123.eu-west-1.elb.amazonaws.com"]
    (live,) = next(iter(facts.routes("ok.example.com").values()))
    assert live.dangling_targets == []
    assert live.load_balancers[0] is not None
    assert live.load_balancers[0].region == "eu-central-1"
    assert facts.routes("www.other.org") == {}
    # A name without its own record is answered by the zone's wildcard record.
    (wildcard,) = next(iter(facts.routes("spacelift-mqtt.example.com").values()))
    assert (wildcard.record.name, wildcard.record.ttl) == ("*.example.com", 900)
    assert next(iter(facts.routes("a.b.example.com").values())) == []


def test_certificate_days_and_coverage() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cert = AcmCertificate.from_api({"CertificateArn": "arn:aws:acm:eu-west-1:1:certificate/x",
                                    "DomainName": "example.com", "SubjectAlternativeNames": ["*.example.com"],
                                    "Status": "ISSUED", "Type": "AMAZON_ISSUED",
                                    "NotAfter": datetime(2026, 1, 31)})  # naive: botocore may parse as such
    assert cert.days_valid(now) == pytest.approx(30)
    assert cert.covers("spacelift.example.com")
    assert cert.covers("example.com")
    assert not cert.covers("a.b.example.com")
    assert AcmCertificate.from_api({"CertificateArn": "a", "Status": "PENDING_VALIDATION"}).days_valid(now) is None


# Few ids, so that the same certificate often appears in both regions with different statuses.
certificate_ids = st.sampled_from(["a" * 64, "b" * 64, "c" * 64, "d" * 64, "e" * 64])
statuses = st.sampled_from(["ACTIVE", "INACTIVE", "REVOKED", "PENDING_TRANSFER"])


@given(primary=st.dictionaries(certificate_ids, statuses), backup=st.dictionaries(certificate_ids, statuses))
def test_missing_certificates_are_exactly_active_ones_not_active_in_backup(primary: dict[str, str],
                                                                            backup: dict[str, str]) -> None:
    missing = missing_in([IotCertificate(k, v) for k, v in primary.items()],
                         [IotCertificate(k, v) for k, v in backup.items()])
    expected = {k for k, v in primary.items() if v == "ACTIVE" and backup.get(k) != "ACTIVE"}
    assert set(missing) == expected
    assert all(missing[k] == backup.get(k, "absent") for k in missing)


def test_domain_configuration_matches_its_domain_case_insensitively() -> None:
    config = DomainConfiguration.from_api({"domainConfigurationName": "spacelift", "domainName": "MQTT.example.com",
                                           "domainConfigurationStatus": "DISABLED"})
    assert config.serves("mqtt.example.com.")
    assert not config.enabled


def _access() -> AwsAccess:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="eu-west-1")
    return AwsAccess(session, endpoint_url="http://127.0.0.1:9")


def test_all_pages_of_iot_certificates_and_domain_configurations_are_read() -> None:
    aws = _access()
    client = aws.client("iot", "eu-west-1")
    with Stubber(client) as stub:
        stub.add_response("list_certificates", {"certificates": [{"certificateId": "a" * 64, "status": "ACTIVE"}],
                                                "nextMarker": "page2"}, {})
        stub.add_response("list_certificates", {"certificates": [{"certificateId": "b" * 64, "status": "ACTIVE"}]},
                          {"marker": "page2"})
        stub.add_response("list_domain_configurations", {"domainConfigurations": [
            {"domainConfigurationName": "iot:Data-ATS", "serviceType": "DATA"},
            {"domainConfigurationName": "spacelift", "serviceType": "DATA"}], "nextMarker": "m"}, {})
        stub.add_response("list_domain_configurations", {"domainConfigurations": []}, {"marker": "m"})
        stub.add_response("describe_domain_configuration", {
            "domainConfigurationName": "spacelift", "domainName": "mqtt.example.com",
            "domainConfigurationStatus": "ENABLED", "domainType": "CUSTOMER_MANAGED"},
            {"domainConfigurationName": "spacelift"})
        facts = BrokerFacts(aws, "eu-west-1", "eu-central-1")
        assert [c.id[0] for c in facts.iot_certificates("eu-west-1")] == ["a", "b"]
        # AWS-managed configurations are not described: they serve only the default endpoints.
        assert [c.domain_name for c in facts.domain_configurations("eu-west-1")] == ["mqtt.example.com"]
        stub.assert_no_pending_responses()


def test_settings_read_from_server_and_drain_or_from_explicit_settings() -> None:
    installation = Installation("x", "eu-west-1", "eu-central-1", None, ("states",), explicit_settings={
        "MQTT_BROKER_TYPE": "iotcore", "MQTT_BROKER_ENDPOINT": "mqtt.example.com", "SERVER_DOMAIN": "s.example.com",
        "AWS_SECONDARY_REGION": "eu-central-1"})
    settings = BrokerSettings.from_installation(installation)
    assert settings.broker_types == {"server": "iotcore", "drain": "iotcore"}
    assert settings.uses_iotcore
    assert settings.endpoint_host == "mqtt.example.com"
    assert settings.message_queue_type == {"server": None, "drain": None}
    mixed = BrokerSettings({"server": "builtin", "drain": None}, {}, None, {}, {}, {})
    assert mixed.broker_type == "builtin / unset"
    assert not mixed.uses_iotcore


def test_no_server_or_drain_is_unobservable() -> None:
    from spacelift_dr.errors import Unobservable

    with pytest.raises(Unobservable, match="neither the server nor the drain service was found"):
        BrokerSettings.from_installation(Installation("x", "eu-west-1", "eu-central-1", None, ("states",)))


def test_expiry_arithmetic_uses_utc() -> None:
    now = datetime.now(UTC)
    cert = AcmCertificate.from_api({"CertificateArn": "a", "NotAfter": now + timedelta(days=10, hours=1)})
    days = cert.days_valid(now)
    assert days is not None
    assert 10 < days < 10.1
