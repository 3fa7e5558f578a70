"""Broker facts: the MQTT and server names, their Route 53 records, the load balancers behind them, the
server's ACM certificate, and IoT Core's domain configurations and certificates.

Parsing and decisions are pure (``from_api`` classmethods, module functions); :class:`BrokerFacts` makes
the reads, each once per run, through :class:`~spacelift_dr.aws.AwsAccess`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ..aws import AwsAccess, remembered_property
from ..errors import Unobservable
from ..installation import Installation
from .s3 import arn_region

BROKER_TYPES = ("builtin", "iotcore")
ALIAS_TTL_SECONDS = 60  # Route 53 alias records have no TTL of their own; resolvers see the target's 60 s
ROUTE53_REGION = "us-east-1"  # Route 53 is a global service signed in us-east-1
ACM_KEY_TYPES = ("RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1")

# Names AWS generates for its resources: they belong to one region and cannot be repointed.
_PROVIDER_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")
_IOT_DEFAULT = re.compile(
    r"\.iot(-fips)?\.(?P<region>[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2})\.amazonaws\.com(\.cn)?$")
GLOBAL_ACCELERATOR_REGION = "us-west-2"  # the Global Accelerator API is served from us-west-2 only
MAX_CHAIN = 10  # names followed through the account's zones before a chain counts as unresolvable


def normalise_dns(name: str) -> str:
    """``Dualstack.X.eu-west-1.ELB.amazonaws.com.`` → ``x.eu-west-1.elb.amazonaws.com``.

    Route 53 answers with a trailing dot and, for load-balancer aliases, a ``dualstack.`` prefix;
    DNS names compare case-insensitively.
    """
    name = name.strip().rstrip(".").lower()
    return name.removeprefix("dualstack.")


def host_of(value: str | None) -> str | None:
    """The host of a setting: ``tls://mqtt.example.com:1984`` → ``mqtt.example.com``; bare hosts too."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    parsed = urlsplit(text if "://" in text else f"//{text}")
    host = parsed.hostname
    return normalise_dns(host) if host else None


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_provider_generated(host: str) -> bool:
    """A name AWS generated (``*.elb.amazonaws.com``, ``*.iot.<region>.amazonaws.com``, …)."""
    host = normalise_dns(host)
    return host.endswith(_PROVIDER_SUFFIXES) or f".{host}" in _PROVIDER_SUFFIXES


def iot_endpoint_region(host: str) -> str | None:
    """The region of an AWS IoT data endpoint name (``…-ats.iot.eu-west-1.amazonaws.com``), else None."""
    match = _IOT_DEFAULT.search(normalise_dns(host))
    return match.group("region") if match else None


def is_iot_default_endpoint(host: str) -> bool:
    """``<prefix>-ats.iot.<region>.amazonaws.com``: the account's default IoT data endpoint."""
    return bool(_IOT_DEFAULT.search(normalise_dns(host)))


def name_covers(pattern: str, name: str) -> bool:
    """Whether a certificate name covers a host name (RFC 6125 §6.4.3 as ACM applies it).

    A wildcard is only a whole left-most label and matches exactly one label: ``*.example.com`` covers
    ``a.example.com`` but neither ``example.com`` nor ``a.b.example.com``.
    """
    pattern, name = normalise_dns(pattern), normalise_dns(name)
    if not pattern or not name:
        return False
    if not pattern.startswith("*."):
        return "*" not in pattern and pattern == name
    suffix = pattern[2:]
    if "*" in suffix or not suffix:
        return False
    label, dot, rest = name.partition(".")
    return bool(label) and bool(dot) and rest == suffix


def in_zone(name: str, zone: str) -> bool:
    """Whether ``name`` lies in the DNS zone ``zone`` (label-wise suffix, the apex included)."""
    name, zone = normalise_dns(name), normalise_dns(zone)
    return name == zone or name.endswith("." + zone)


# -- settings ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokerSettings:
    """The broker-related settings of server and drain (the services that talk to workers)."""

    broker_types: dict[str, str | None]  # role → MQTT_BROKER_TYPE
    endpoints: dict[str, str | None]  # role → MQTT_BROKER_ENDPOINT
    server_domain: str | None
    aws_region: dict[str, str | None]
    secondary_region: dict[str, str | None]
    message_queue_type: dict[str, str | None]

    @classmethod
    def from_installation(cls, installation: Installation) -> BrokerSettings:
        roles = [r for r in ("server", "drain") if r in installation.services]
        if installation.explicit_settings and not roles:
            roles = ["server", "drain"]
        if not roles:
            raise Unobservable("spacelift:setting", "MQTT_BROKER_TYPE",
                               "neither the server nor the drain service was found (see DR-SVC-01)")

        def per_role(name: str) -> dict[str, str | None]:
            return {role: installation.value(name, role) for role in roles}

        domain_role = "server" if "server" in roles else roles[0]
        return cls(
            broker_types=per_role("MQTT_BROKER_TYPE"),
            endpoints=per_role("MQTT_BROKER_ENDPOINT"),
            server_domain=installation.value("SERVER_DOMAIN", domain_role),
            aws_region=per_role("AWS_REGION"),
            secondary_region=per_role("AWS_SECONDARY_REGION"),
            message_queue_type=per_role("MESSAGE_QUEUE_TYPE"),
        )

    @property
    def uses_iotcore(self) -> bool:
        """IoT Core applies as soon as server or drain is configured for it."""
        return any((t or "").strip().lower() == "iotcore" for t in self.broker_types.values())

    @property
    def broker_type(self) -> str:
        """The single broker type, or a description of the mix for messages."""
        types = sorted({t or "unset" for t in self.broker_types.values()})
        return types[0] if len(types) == 1 else " / ".join(types)

    @property
    def endpoint(self) -> str | None:
        return self.endpoints.get("server", next(iter(self.endpoints.values()), None))

    @property
    def endpoint_host(self) -> str | None:
        return host_of(self.endpoint)

    @property
    def server_host(self) -> str | None:
        return host_of(self.server_domain)


@dataclass(frozen=True)
class NamedHost:
    """A name users or workers connect to, from the setting that carries it."""

    setting: str  # SERVER_DOMAIN or MQTT_BROKER_ENDPOINT
    value: str | None
    host: str | None


# -- Route 53 ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostedZone:
    id: str
    name: str
    private: bool

    @classmethod
    def from_api(cls, zone: dict[str, Any]) -> HostedZone:
        return cls(id=str(zone["Id"]).removeprefix("/hostedzone/"), name=normalise_dns(zone["Name"]),
                   private=bool((zone.get("Config") or {}).get("PrivateZone")))

    def summary(self) -> dict[str, Any]:
        return {"Id": self.id, "Name": self.name, "PrivateZone": self.private}


@dataclass(frozen=True)
class RecordSet:
    """One record set; for an alias, ``targets`` is the alias target and ``ttl`` the alias's 60 s."""

    name: str
    type: str
    alias: bool
    targets: tuple[str, ...]
    record_ttl: int | None
    set_identifier: str | None

    @classmethod
    def from_api(cls, record: dict[str, Any]) -> RecordSet:
        alias = record.get("AliasTarget")
        if alias:
            targets: tuple[str, ...] = (normalise_dns(alias.get("DNSName", "")),)
        else:
            targets = tuple(str(r.get("Value", "")).strip().rstrip(".").lower()
                            for r in record.get("ResourceRecords") or [])
        ttl = record.get("TTL")
        # Route 53 returns a wildcard record's asterisk as the octal escape \052.
        name = normalise_dns(str(record["Name"]).replace("\\052", "*"))
        return cls(name=name, type=str(record["Type"]), alias=bool(alias),
                   targets=targets, record_ttl=int(ttl) if ttl is not None else None,
                   set_identifier=record.get("SetIdentifier"))

    @property
    def ttl(self) -> int | None:
        """The TTL resolvers cache the answer for: alias records count as 60 seconds."""
        return ALIAS_TTL_SECONDS if self.alias else self.record_ttl

    @property
    def routes_traffic(self) -> bool:
        """A record that answers address lookups for its name (A, AAAA or CNAME)."""
        return self.type in {"A", "AAAA", "CNAME"}

    def summary(self) -> dict[str, Any]:
        return {"Name": self.name, "Type": self.type, "Alias": self.alias, "Targets": list(self.targets),
                "TTL": self.ttl, **({"SetIdentifier": self.set_identifier} if self.set_identifier else {})}


def most_specific_zones(name: str, zones: list[HostedZone]) -> list[HostedZone]:
    """The zones whose name is the longest suffix of ``name`` (public and private of that name)."""
    candidates = [z for z in zones if in_zone(name, z.name)]
    if not candidates:
        return []
    longest = max(len(z.name) for z in candidates)
    return sorted((z for z in candidates if len(z.name) == longest), key=lambda z: z.id)


# -- load balancers and certificates ------------------------------------------------------------------


@dataclass(frozen=True)
class LoadBalancer:
    arn: str
    name: str
    dns_name: str
    type: str
    region: str

    @classmethod
    def from_api(cls, lb: dict[str, Any], region: str) -> LoadBalancer:
        return cls(arn=lb["LoadBalancerArn"], name=lb.get("LoadBalancerName", ""),
                   dns_name=normalise_dns(lb.get("DNSName", "")), type=lb.get("Type", ""), region=region)

    def summary(self) -> dict[str, Any]:
        return {"LoadBalancerName": self.name, "Type": self.type, "DNSName": self.dns_name, "Region": self.region}


@dataclass(frozen=True)
class Listener:
    arn: str
    protocol: str
    port: int
    default_certificates: tuple[str, ...]

    @classmethod
    def from_api(cls, listener: dict[str, Any]) -> Listener:
        return cls(arn=listener["ListenerArn"], protocol=str(listener.get("Protocol", "")),
                   port=int(listener.get("Port") or 0),
                   default_certificates=tuple(c["CertificateArn"] for c in listener.get("Certificates") or []
                                              if c.get("CertificateArn")))

    @property
    def terminates_tls(self) -> bool:
        """An HTTPS listener (application load balancer) or a TLS one (network load balancer): both
        present an ACM certificate to clients."""
        return self.protocol in {"HTTPS", "TLS"}


@dataclass(frozen=True)
class AcmCertificate:
    arn: str
    domain_name: str
    names: tuple[str, ...]  # DomainName and SubjectAlternativeNames
    status: str
    not_after: datetime | None
    type: str

    @classmethod
    def from_api(cls, certificate: dict[str, Any]) -> AcmCertificate:
        names = [certificate.get("DomainName", ""), *(certificate.get("SubjectAlternativeNames") or [])]
        not_after = certificate.get("NotAfter")
        if isinstance(not_after, datetime) and not_after.tzinfo is None:
            not_after = not_after.replace(tzinfo=UTC)
        return cls(arn=certificate["CertificateArn"], domain_name=certificate.get("DomainName", ""),
                   names=tuple(dict.fromkeys(n for n in names if n)), status=str(certificate.get("Status", "")),
                   not_after=not_after if isinstance(not_after, datetime) else None,
                   type=str(certificate.get("Type", "")))

    def covers(self, host: str) -> bool:
        return any(name_covers(name, host) for name in self.names)

    def days_valid(self, now: datetime) -> float | None:
        """Days until NotAfter (negative once expired); None when ACM reports no NotAfter."""
        if self.not_after is None:
            return None
        return (self.not_after - now).total_seconds() / 86400

    def summary(self, now: datetime) -> dict[str, Any]:
        days = self.days_valid(now)
        return {"CertificateArn": self.arn, "Names": list(self.names), "Status": self.status, "Type": self.type,
                "NotAfter": self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ") if self.not_after else None,
                "DaysValid": round(days, 1) if days is not None else None}


# -- IoT Core ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainConfiguration:
    name: str
    domain_name: str | None
    status: str
    domain_type: str | None
    service_type: str | None = None
    server_certificates: tuple[tuple[str, str, str | None], ...] = ()  # (arn, status, status detail)

    @classmethod
    def from_api(cls, description: dict[str, Any]) -> DomainConfiguration:
        domain = description.get("domainName")
        return cls(name=description.get("domainConfigurationName", ""),
                   domain_name=normalise_dns(domain) if domain else None,
                   status=str(description.get("domainConfigurationStatus", "")),
                   domain_type=description.get("domainType"),
                   service_type=description.get("serviceType"),
                   server_certificates=tuple(
                       (str(c.get("serverCertificateArn", "")), str(c.get("serverCertificateStatus", "not reported")),
                        c.get("serverCertificateStatusDetail"))
                       for c in description.get("serverCertificates") or []))

    @property
    def enabled(self) -> bool:
        return self.status == "ENABLED"

    @property
    def problems(self) -> list[str]:
        """Why workers could not connect through this configuration: not ENABLED, not the MQTT data
        service, or a server certificate IoT does not consider VALID (expired, revoked, wrong name)."""
        found = []
        if not self.enabled:
            found.append(f"{self.name} is {self.status or 'of unknown status'}")
        if self.service_type != "DATA":
            found.append(f"{self.name} serves {self.service_type or 'an unreported serviceType'}, not DATA")
        if not self.server_certificates:
            found.append(f"{self.name} has no server certificate")
        for arn, status, detail in self.server_certificates:
            if status != "VALID":
                found.append(f"{self.name}'s server certificate {arn} is {status}" + (f" ({detail})" if detail else ""))
        return found

    @property
    def usable(self) -> bool:
        return not self.problems

    def serves(self, host: str) -> bool:
        return self.domain_name is not None and self.domain_name == normalise_dns(host)

    def summary(self) -> dict[str, Any]:
        return {"domainConfigurationName": self.name, "domainName": self.domain_name,
                "domainConfigurationStatus": self.status, "serviceType": self.service_type,
                "serverCertificates": [{"serverCertificateArn": a, "serverCertificateStatus": s,
                                        **({"serverCertificateStatusDetail": d} if d else {})}
                                       for a, s, d in self.server_certificates]}


@dataclass(frozen=True)
class IotCertificate:
    id: str
    status: str
    arn: str = ""

    @classmethod
    def from_api(cls, certificate: dict[str, Any]) -> IotCertificate:
        return cls(id=str(certificate["certificateId"]), status=str(certificate.get("status", "")),
                   arn=str(certificate.get("certificateArn", "")))

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


def active_ids(certificates: list[IotCertificate]) -> set[str]:
    return {c.id for c in certificates if c.active}


def missing_in(primary: list[IotCertificate], backup: list[IotCertificate]) -> dict[str, str]:
    """ACTIVE primary certificates that are not ACTIVE in the backup region → what the backup shows."""
    in_backup = {c.id: c.status for c in backup}
    return {cid: in_backup.get(cid, "absent") for cid in sorted(active_ids(primary))
            if in_backup.get(cid) != "ACTIVE"}


def worker_certificate_gaps(primary: list[IotCertificate], primary_policies: dict[str, set[str]],
                            backup: list[IotCertificate], backup_policies: dict[str, set[str]]) -> dict[str, str]:
    """Worker certificates (ACTIVE in the primary region with an IoT policy attached there) that workers
    could not connect with in the backup region → why: absent or not ACTIVE there, or without the same
    policies attached (an attached policy is what lets the certificate connect and publish)."""
    in_backup = {c.id: c.status for c in backup}
    gaps = {}
    for certificate in sorted(primary, key=lambda c: c.id):
        wanted = primary_policies.get(certificate.id, set())
        if not certificate.active or not wanted:
            continue
        status = in_backup.get(certificate.id, "absent")
        if status != "ACTIVE":
            gaps[certificate.id] = status
            continue
        lacking = sorted(wanted - backup_policies.get(certificate.id, set()))
        if lacking:
            gaps[certificate.id] = f"ACTIVE without polic{'y' if len(lacking) == 1 else 'ies'} {', '.join(lacking)}"
    return gaps


# -- reads ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a record's target turned out to be, followed through the account's zones where it is a name there.

    ``kind`` is None when nothing that exists answers to the name (a dangling record).
    """

    name: str
    kind: str | None  # load balancer | CloudFront distribution | Global Accelerator accelerator | IoT endpoint
    load_balancer: LoadBalancer | None = None
    via: tuple[str, ...] = ()  # names followed through the account's zones, in order
    ttl: int | None = None  # the largest TTL of the records followed (None when none was followed)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "is": self.kind or "nothing that exists",
                **({"followed": list(self.via), "TTL": self.ttl} if self.via else {})}


@dataclass(frozen=True)
class Route:
    """Where one record of a name sends traffic: what each of its targets resolves to."""

    zone: HostedZone
    record: RecordSet
    targets: tuple[Target, ...]

    @property
    def load_balancers(self) -> tuple[LoadBalancer | None, ...]:
        return tuple(t.load_balancer for t in self.targets)

    @property
    def dangling_targets(self) -> list[str]:
        return [t.name for t in self.targets if t.kind is None]

    @property
    def ttl(self) -> int | None:
        """How long resolvers may keep the answer: the largest TTL along the chain of records."""
        ttls = [self.record.ttl, *(t.ttl for t in self.targets if t.via)]
        return None if any(t is None for t in ttls) else max(t for t in ttls if t is not None)

    def summary(self) -> dict[str, Any]:
        return {"HostedZone": self.zone.name, "PrivateZone": self.zone.private, **self.record.summary(),
                "LoadBalancers": [lb.name if lb else None for lb in self.load_balancers],
                "Resolved": [t.summary() for t in self.targets]}


class BrokerFacts:
    """Route 53, ELBv2, ACM and IoT reads for the broker checks, each made once per run."""

    def __init__(self, aws: AwsAccess, primary_region: str, backup_region: str) -> None:
        self._aws = aws
        self.primary = primary_region
        self.backup = backup_region

    # Route 53 ----------------------------------------------------------------------------------------

    @remembered_property
    def hosted_zones(self) -> list[HostedZone]:
        zones = self._aws.paginate("route53", ROUTE53_REGION, "ListHostedZones", "HostedZones",
                                   resource="route53 hosted zones")
        assert zones is not None
        return [HostedZone.from_api(z) for z in zones]

    def records(self, zone: HostedZone) -> list[RecordSet]:
        found = self._aws.paginate("route53", ROUTE53_REGION, "ListResourceRecordSets", "ResourceRecordSets",
                                   resource=f"hosted zone {zone.name} ({zone.id})", HostedZoneId=zone.id)
        assert found is not None
        return [RecordSet.from_api(r) for r in found]

    def zones_for(self, host: str) -> list[HostedZone]:
        return most_specific_zones(host, self.hosted_zones)

    def _answering(self, zone: HostedZone, host: str) -> list[RecordSet]:
        answering = [r for r in self.records(zone) if r.routes_traffic]
        records = [r for r in answering if r.name == host]
        if not records:  # DNS answers from a wildcard record only when no record has the exact name
            records = [r for r in answering if r.name.startswith("*.") and name_covers(r.name, host)]
        return records

    def routes(self, host: str) -> dict[HostedZone, list[Route]]:
        """Per zone that holds ``host``: its A/AAAA/CNAME records and what their targets resolve to."""
        host = normalise_dns(host)
        return {zone: [Route(zone, r, tuple(self.resolve(t, frozenset({host})) for t in r.targets))
                       for r in self._answering(zone, host)]
                for zone in self.zones_for(host)}

    def resolve(self, name: str, seen: frozenset[str] = frozenset()) -> Target:
        """What a record target is: an AWS resource that exists (load balancer, CloudFront distribution,
        Global Accelerator accelerator, IoT data endpoint), or a name in the account's zones whose own
        records are followed (up to ten names, never in a loop)."""
        name = normalise_dns(name)
        iot_region = iot_endpoint_region(name)
        if iot_region is not None:
            return Target(name, "IoT endpoint" if name == self.iot_endpoint(iot_region) else None)
        if name.endswith(".cloudfront.net"):
            return Target(name, "CloudFront distribution" if name in self.cloudfront_domains() else None)
        if name.endswith(".awsglobalaccelerator.com"):
            return Target(name, "Global Accelerator accelerator" if name in self.accelerator_dns_names() else None)
        lb = self.load_balancer_by_dns(name)
        if lb is not None:
            return Target(name, "load balancer", load_balancer=lb)
        zones = self.zones_for(name)
        if not zones or name in seen or len(seen) >= MAX_CHAIN:
            return Target(name, None)
        records = [r for zone in zones for r in self._answering(zone, name)]
        inner = [self.resolve(t, seen | {name}) for r in records for t in r.targets]
        if not inner:
            return Target(name, None, via=(name,))
        ttls = [r.ttl for r in records] + [t.ttl for t in inner if t.via]
        ttl = None if any(t is None for t in ttls) else max(t for t in ttls if t is not None)
        dangling = next((t for t in inner if t.kind is None), None)
        chosen = dangling or inner[0]
        return Target(name, chosen.kind, chosen.load_balancer, (name, *chosen.via), ttl)

    # CloudFront, Global Accelerator, IoT endpoints -------------------------------------------------

    @remembered_property
    def _cloudfront(self) -> frozenset[str]:
        domains: set[str] = set()
        marker: str | None = None
        for _ in range(1000):  # each page is a read of its own; a thousand pages is far beyond any account
            params: dict[str, Any] = {"Marker": marker} if marker else {}
            response = self._aws.call("cloudfront", ROUTE53_REGION, "ListDistributions",
                                      resource="cloudfront distributions", **params)
            listing = (response or {}).get("DistributionList") or {}
            domains.update(normalise_dns(str(d.get("DomainName", ""))) for d in listing.get("Items") or [])
            marker = listing.get("NextMarker") if listing.get("IsTruncated") else None
            if not marker:
                break
        return frozenset(domains)

    def cloudfront_domains(self) -> frozenset[str]:
        """The ``*.cloudfront.net`` names of the account's distributions."""
        return self._cloudfront

    def accelerator_dns_names(self) -> frozenset[str]:
        """The DNS names (IPv4 and dual-stack) of the account's Global Accelerator accelerators (an API
        served from us-west-2 only)."""
        found = self._aws.paginate("globalaccelerator", GLOBAL_ACCELERATOR_REGION, "ListAccelerators",
                                   "Accelerators", resource="global accelerators")
        assert found is not None
        return frozenset(normalise_dns(str(a.get(k))) for a in found for k in ("DnsName", "DualStackDnsName")
                         if a.get(k))

    def iot_endpoint(self, region: str) -> str:
        """The account's IoT data endpoint (ATS) in ``region``."""
        response = self._aws.call("iot", region, "DescribeEndpoint", resource=f"iot data endpoint in {region}",
                                  endpointType="iot:Data-ATS")
        assert response is not None
        return normalise_dns(str(response.get("endpointAddress", "")))

    # ELBv2 -------------------------------------------------------------------------------------------

    def load_balancers(self, region: str) -> list[LoadBalancer]:
        found = self._aws.paginate("elbv2", region, "DescribeLoadBalancers", "LoadBalancers",
                                   resource=f"load balancers in {region}")
        assert found is not None
        return [LoadBalancer.from_api(lb, region) for lb in found]

    def load_balancer_by_dns(self, dns_name: str) -> LoadBalancer | None:
        """The load balancer (in the primary or backup region) with this DNS name, if it exists."""
        wanted = normalise_dns(dns_name)
        if not wanted.endswith(_PROVIDER_SUFFIXES):
            return None  # an IP address or a name that is no load balancer's
        region = next((r for r in (self.primary, self.backup) if f".{r}." in f".{wanted}."), None)
        for candidate in [region] if region else [self.primary, self.backup]:
            for lb in self.load_balancers(candidate):
                if lb.dns_name == wanted:
                    return lb
        return None

    def load_balancers_by_arn(self, arns: list[str]) -> list[LoadBalancer]:
        wanted = set(arns)
        regions = sorted({arn_region(a) or self.primary for a in wanted})
        return [lb for region in regions for lb in self.load_balancers(region) if lb.arn in wanted]

    def listeners(self, lb: LoadBalancer) -> list[Listener]:
        found = self._aws.paginate("elbv2", lb.region, "DescribeListeners", "Listeners",
                                   resource=lb.arn, LoadBalancerArn=lb.arn)
        assert found is not None
        return [Listener.from_api(listener) for listener in found]

    def listener_certificates(self, lb: LoadBalancer, listener: Listener) -> list[str]:
        """Every certificate of the listener: the default one and the SNI ones."""
        found = self._aws.paginate("elbv2", lb.region, "DescribeListenerCertificates", "Certificates",
                                   resource=listener.arn, ListenerArn=listener.arn)
        assert found is not None
        arns = [*listener.default_certificates, *(c["CertificateArn"] for c in found if c.get("CertificateArn"))]
        return list(dict.fromkeys(arns))

    def target_group_load_balancers(self, target_group_arns: list[str]) -> list[str]:
        region = arn_region(target_group_arns[0]) or self.primary
        found = self._aws.paginate("elbv2", region, "DescribeTargetGroups", "TargetGroups",
                                   resource=", ".join(target_group_arns), TargetGroupArns=target_group_arns)
        assert found is not None
        return list(dict.fromkeys(arn for group in found for arn in group.get("LoadBalancerArns") or []))

    def ecs_service_target_groups(self, installation: Installation, role: str) -> list[str]:
        """The target groups the ECS service of ``role`` registers with (same read as discovery)."""
        if installation.ecs_cluster is None or role not in installation.services:
            return []
        response = self._aws.call("ecs", installation.primary_region, "DescribeServices",
                                  resource=f"ecs cluster {installation.ecs_cluster}",
                                  cluster=installation.ecs_cluster,
                                  services=list(installation.ecs_service_names.values()))
        assert response is not None
        name = installation.ecs_service_names[role]
        for service in response.get("services", []):
            if service.get("serviceName") == name and service.get("status") != "INACTIVE":
                return [lb["targetGroupArn"] for lb in service.get("loadBalancers") or []
                        if lb.get("targetGroupArn")]
        return []

    def server_load_balancers(self, installation: Installation, server_host: str | None) -> tuple[list[LoadBalancer],
                                                                                                 str]:
        """The server's load balancers and how they were found: from the ECS service's target groups (on
        Kubernetes: the DNS names in the status of the server's Ingresses and LoadBalancer Services), else
        from the load balancers SERVER_DOMAIN's Route 53 records point at."""
        server = installation.services.get("server")
        hostnames = server.workload.load_balancer_hostnames if server and server.workload else ()
        by_dns = [lb for name in hostnames if (lb := self.load_balancer_by_dns(name)) is not None]
        if by_dns:
            return list({lb.arn: lb for lb in by_dns}.values()), "status of the server's Ingress and Services"
        groups = self.ecs_service_target_groups(installation, "server")
        if groups:
            arns = self.target_group_load_balancers(groups)
            found = self.load_balancers_by_arn(arns)
            if found:
                return found, "target groups of the server ECS service"
        if server_host:
            reached = {lb.arn: lb for routes in self.routes(server_host).values() for route in routes
                       for lb in route.load_balancers if lb is not None}
            if reached:
                return list(reached.values()), "Route 53 records of SERVER_DOMAIN"
        return [], ""

    # ACM ---------------------------------------------------------------------------------------------

    def acm_certificate(self, arn: str) -> AcmCertificate | None:
        if ":acm:" not in arn:
            raise Unobservable("acm:DescribeCertificate", arn,
                               "not an ACM certificate (IAM server certificates are not read by the suite)")
        response = self._aws.call("acm", arn_region(arn) or self.primary, "DescribeCertificate", resource=arn,
                                  absent=("ResourceNotFoundException",), CertificateArn=arn)
        return None if response is None else AcmCertificate.from_api(response["Certificate"])

    def issued_certificates(self, region: str) -> list[dict[str, Any]]:
        """``ListCertificates`` of ISSUED certificates of every key type (ACM lists only RSA_2048 ones
        unless asked for the others)."""
        found = self._aws.paginate("acm", region, "ListCertificates", "CertificateSummaryList",
                                   resource=f"acm certificates in {region}", CertificateStatuses=["ISSUED"],
                                   Includes={"keyTypes": list(ACM_KEY_TYPES)})
        assert found is not None
        return list(found)

    def certificates_covering(self, host: str, region: str) -> list[AcmCertificate]:
        """The ISSUED certificates in ``region`` that cover ``host``, described (names and NotAfter from
        ``DescribeCertificate``: a summary lists at most a hundred names)."""
        arns = [str(summary["CertificateArn"]) for summary in self.issued_certificates(region)
                if summary.get("CertificateArn") and (
                    summary.get("HasAdditionalSubjectAlternativeNames") is True
                    or any(name_covers(str(n), host) for n in [summary.get("DomainName", ""),
                                                               *(summary.get("SubjectAlternativeNameSummaries")
                                                                 or [])]))]
        described = [self.acm_certificate(arn) for arn in arns]
        return [c for c in described if c is not None and c.covers(host)]

    # IoT Core ----------------------------------------------------------------------------------------

    def domain_configurations(self, region: str) -> list[DomainConfiguration]:
        listed = self._aws.paginate("iot", region, "ListDomainConfigurations", "domainConfigurations",
                                    resource=f"iot domain configurations in {region}")
        assert listed is not None
        found = []
        for entry in listed:
            name = entry.get("domainConfigurationName", "")
            # AWS-managed configurations (iot:Data-ATS, iot:Jobs, …) serve the default endpoints only.
            if name.startswith("iot:") or entry.get("domainType") == "AWS_MANAGED":
                continue
            described = self._aws.call("iot", region, "DescribeDomainConfiguration",
                                       resource=entry.get("domainConfigurationArn", name),
                                       domainConfigurationName=name)
            assert described is not None
            found.append(DomainConfiguration.from_api(described))
        return found

    def iot_certificates(self, region: str) -> list[IotCertificate]:
        found = self._aws.paginate("iot", region, "ListCertificates", "certificates",
                                   resource=f"iot certificates in {region}")
        assert found is not None
        return [IotCertificate.from_api(c) for c in found]

    def attached_policies(self, region: str, certificate: IotCertificate) -> set[str]:
        """The IoT policies attached to the certificate (``ListAttachedPolicies`` with it as target)."""
        if not certificate.arn:
            raise Unobservable("iot:ListCertificates", f"iot certificates in {region}",
                               f"certificate {certificate.id} is listed without its certificateArn")
        found = self._aws.paginate("iot", region, "ListAttachedPolicies", "policies", resource=certificate.arn,
                                   target=certificate.arn)
        assert found is not None
        return {str(p.get("policyName", "")) for p in found}

    def policies_of_active(self, region: str, certificates: list[IotCertificate],
                           only: set[str] | None = None) -> dict[str, set[str]]:
        """The attached policies of each ACTIVE certificate (of those in ``only``, when given)."""
        return {c.id: self.attached_policies(region, c) for c in certificates
                if c.active and (only is None or c.id in only)}
