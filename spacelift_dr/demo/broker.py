"""The demo's broker side, as the official modules deploy it: the server's application load balancer with
an HTTPS listener and a user-supplied ACM certificate, Route 53 names in the organisation's zone, and
either the built-in MQTT broker behind a network load balancer (``builtin``, the default) or AWS IoT Core
with a custom domain in both regions and worker certificates registered in both (``iotcore``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .context import SeedContext

ZONE = "demo-corp.example"
SERVER_DOMAIN = f"spacelift.{ZONE}"
MQTT_HOST = f"spacelift-mqtt.{ZONE}"  # the built-in broker's name
IOT_DOMAIN = f"mqtt.{ZONE}"  # the custom IoT Core domain
MQTT_PORT = 1984
SERVER_PORT = 1983
WORKER_CERTIFICATES = 3
DEFAULT_IOT_ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.{region}.amazonaws.com"

MUTATIONS: dict[str, str] = {
    "server-domain-is-lb-hostname": "SERVER_DOMAIN is the server load balancer's AWS-generated DNS name",
    "server-record-dangling": "the server's Route 53 alias points at a load balancer that no longer exists",
    "mqtt-record-high-ttl": "the built-in broker's CNAME record has a TTL of 3600 seconds",
    "server-certificate-expiring": "the server's ACM certificate expires in 10 days",
    "no-backup-server-certificate": "no ACM certificate for SERVER_DOMAIN waits in the backup region",
    "broker-type-unset:drain": "the drain service has no MQTT_BROKER_TYPE",
    "iot-default-endpoint": "(iotcore) MQTT_BROKER_ENDPOINT is the account's default IoT data endpoint",
    "iot-domain-missing:backup": "(iotcore) the backup region has no IoT domain configuration for the domain",
    "iot-domain-disabled:backup": "(iotcore) the backup region's IoT domain configuration is DISABLED",
    "secondary-region-unset": "(iotcore) AWS_SECONDARY_REGION is not set on server and drain",
    "secondary-region-is-primary": "(iotcore) AWS_SECONDARY_REGION is the primary region",
    "iot-certificate-missing:backup": "(iotcore) one worker certificate is not registered in the backup region",
    "iot-certificate-policy-missing:backup": "(iotcore) one worker certificate has no policy attached in the backup "
                                             "region",
    "iot-postgres-queue": "(iotcore) MESSAGE_QUEUE_TYPE is postgres",
}


def certificate(names: list[str], days: int) -> tuple[bytes, bytes]:
    """A self-signed certificate (PEM) for ``names`` valid ``days`` more days, and its private key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    built = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=days))
             .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
             .sign(key, hashes.SHA256()))
    pem = built.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem, private


def _import_certificate(ctx: SeedContext, region: str, names: list[str], days: int) -> str:
    pem, key = certificate(names, days)
    return str(ctx.client("acm", region).import_certificate(Certificate=pem, PrivateKey=key)["CertificateArn"])


def _network(ctx: SeedContext) -> tuple[str, list[str]]:
    ec2 = ctx.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24",
                                 AvailabilityZone=f"{ctx.primary}{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("ab")]
    return vpc, subnets


def _load_balancer(ctx: SeedContext, name: str, kind: str, subnets: list[str]) -> dict[str, Any]:
    return dict(ctx.client("elbv2").create_load_balancer(Name=name, Subnets=subnets, Type=kind)["LoadBalancers"][0])


def _target_group(ctx: SeedContext, name: str, protocol: str, port: int, vpc: str) -> str:
    return str(ctx.client("elbv2").create_target_group(
        Name=name, Protocol=protocol, Port=port, VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"])


def _record(name: str, target: str, ttl: int | None = None, zone_id: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"Name": name}
    if zone_id is not None:  # an alias to a load balancer
        record.update(Type="A", AliasTarget={"HostedZoneId": zone_id, "DNSName": f"dualstack.{target}",
                                             "EvaluateTargetHealth": True})
    else:
        record.update(Type="CNAME", TTL=ttl, ResourceRecords=[{"Value": target}])
    return {"Action": "UPSERT", "ResourceRecordSet": record}


def _server(ctx: SeedContext, vpc: str, subnets: list[str]) -> dict[str, Any]:
    elbv2 = ctx.client("elbv2")
    lb = _load_balancer(ctx, f"server-lb-{ctx.suffix}", "application", subnets)
    group = _target_group(ctx, f"server-{ctx.suffix}", "HTTP", SERVER_PORT, vpc)
    days = 10 if ctx.mutated("server-certificate-expiring") else 397
    certificate_arn = _import_certificate(ctx, ctx.primary, [SERVER_DOMAIN], days)
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
                          SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
                          Certificates=[{"CertificateArn": certificate_arn}],
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    ctx.facts.setdefault("load_balancers", {}).setdefault("server", []).append(
        {"targetGroupArn": group, "containerName": "server", "containerPort": SERVER_PORT})
    ctx.facts["server_certificate"] = certificate_arn
    # ACM is regional: the replacement load balancer in the backup region needs a certificate of its own.
    if not ctx.mutated("no-backup-server-certificate"):
        ctx.facts["backup_server_certificate"] = _import_certificate(ctx, ctx.backup, [SERVER_DOMAIN], 397)
    return lb


def _builtin_broker(ctx: SeedContext, vpc: str, subnets: list[str]) -> dict[str, Any]:
    lb = _load_balancer(ctx, f"spacelift-mqtt-{ctx.suffix}", "network", subnets)
    group = _target_group(ctx, f"mqtt-{ctx.suffix}", "TCP", MQTT_PORT, vpc)
    ctx.client("elbv2").create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=MQTT_PORT,
                                        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    # The built-in broker runs in the server: the network load balancer sends MQTT to its tasks.
    ctx.facts.setdefault("load_balancers", {}).setdefault("server", []).append(
        {"targetGroupArn": group, "containerName": "server", "containerPort": MQTT_PORT})
    return lb


def _iot_core(ctx: SeedContext) -> str:
    """The custom domain in both regions and the workers' certificates; returns the IoT data endpoint."""
    for region, role in ((ctx.primary, "primary"), (ctx.backup, "backup")):
        if ctx.mutated(f"iot-domain-missing:{role}"):
            continue
        iot = ctx.client("iot", region)
        server_certificate = _import_certificate(ctx, region, [IOT_DOMAIN], 397)
        iot.create_domain_configuration(domainConfigurationName=f"spacelift-{ctx.suffix}", domainName=IOT_DOMAIN,
                                        serverCertificateArns=[server_certificate], serviceType="DATA")
        if ctx.mutated(f"iot-domain-disabled:{role}"):
            iot.update_domain_configuration(domainConfigurationName=f"spacelift-{ctx.suffix}",
                                            domainConfigurationStatus="DISABLED")
    # Spacelift registers each worker's certificate in AWS_SECONDARY_REGION too, with the same PEM,
    # which gives it the same certificate id there, and attaches the worker policy in both regions.
    policy = f"spacelift-worker-{ctx.suffix}"
    for region in (ctx.primary, ctx.backup):
        ctx.client("iot", region).create_policy(policyName=policy, policyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish",
                                                                                  "iot:Subscribe", "iot:Receive"],
                                                    "Resource": "*"}]}))
    for index in range(WORKER_CERTIFICATES):
        pem = certificate([f"worker-pool-{index}.{ctx.suffix}"], 365)[0].decode()
        arn = ctx.client("iot", ctx.primary).register_certificate_without_ca(
            certificatePem=pem, status="ACTIVE")["certificateArn"]
        ctx.client("iot", ctx.primary).attach_policy(policyName=policy, target=arn)
        if index == 0 and ctx.mutated("iot-certificate-missing:backup"):
            continue
        arn = ctx.client("iot", ctx.backup).register_certificate_without_ca(
            certificatePem=pem, status="ACTIVE")["certificateArn"]
        if not (index == 1 and ctx.mutated("iot-certificate-policy-missing:backup")):
            ctx.client("iot", ctx.backup).attach_policy(policyName=policy, target=arn)
    # A certificate of something else in the account (no policy: no worker connects with it). It need not
    # follow to the backup region.
    other = certificate([f"provisioning-claim.{ctx.suffix}"], 365)[0].decode()
    ctx.client("iot", ctx.primary).register_certificate_without_ca(certificatePem=other, status="ACTIVE")
    endpoint = str(ctx.client("iot", ctx.primary).describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"])
    _replay_endpoint(ctx, ctx.primary, endpoint)
    return endpoint


def _replay_endpoint(ctx: SeedContext, region: str, endpoint: str) -> None:
    """moto invents a new IoT data endpoint on every DescribeEndpoint; AWS keeps one per account and region.
    Answer with the one the demo's Route 53 record points at."""

    def note(context: dict[str, Any], request_signer: Any, **_: Any) -> None:
        context["dr_demo_region"] = request_signer.region_name

    def answer(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("dr_demo_region") == region and "endpointAddress" in parsed:
            parsed["endpointAddress"] = endpoint

    ctx.fixups.append(("before-call.iot.DescribeEndpoint", note))
    ctx.fixups.append(("after-call.iot.DescribeEndpoint", answer))


def _replay_distribution_summaries(ctx: SeedContext) -> None:
    """moto 5.2 leaves ``Staging`` out of ListDistributions' DistributionSummary; AWS always sends it (a required
    member of the CloudFront API model) and the suite refuses answers lacking required members. No distribution
    the demo or a test creates is a staging copy (CopyDistribution is the only way to make one): answer false."""

    def answer(parsed: dict[str, Any], **_: Any) -> None:
        listing = parsed.get("DistributionList")
        for summary in (listing or {}).get("Items") or []:
            if isinstance(summary, dict):
                summary.setdefault("Staging", False)

    ctx.fixups.append(("after-call.cloudfront.ListDistributions", answer))


def _broker_settings(ctx: SeedContext, settings: dict[str, str]) -> None:
    """The broker settings go to the services that talk to workers: server and drain."""
    for role in ("server", "drain"):
        chosen = dict(settings)
        if role == "drain" and ctx.mutated("broker-type-unset:drain"):
            chosen.pop("MQTT_BROKER_TYPE")
        ctx.service_environment[role].update(chosen)


def seed(ctx: SeedContext) -> None:
    vpc, subnets = _network(ctx)
    server = _server(ctx, vpc, subnets)
    _replay_distribution_summaries(ctx)
    route53 = ctx.client("route53")
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference=f"spacelift-{ctx.suffix}")["HostedZone"]["Id"]
    server_target = (f"server-lb-{ctx.suffix}-0123456789.{ctx.primary}.elb.amazonaws.com"
                     if ctx.mutated("server-record-dangling") else server["DNSName"])
    changes = [_record(SERVER_DOMAIN, server_target, zone_id=server["CanonicalHostedZoneId"])]
    if ctx.mutated("server-domain-is-lb-hostname"):
        ctx.environment["SERVER_DOMAIN"] = server["DNSName"]
    else:
        ctx.environment.setdefault("SERVER_DOMAIN", SERVER_DOMAIN)

    if ctx.variant == "iotcore":
        endpoint = _iot_core(ctx)
        changes.append(_record(IOT_DOMAIN, endpoint, ttl=60))
        settings = {"MQTT_BROKER_TYPE": "iotcore",
                    "MQTT_BROKER_ENDPOINT": (DEFAULT_IOT_ENDPOINT.format(region=ctx.primary)
                                             if ctx.mutated("iot-default-endpoint") else IOT_DOMAIN)}
        if not ctx.mutated("secondary-region-unset"):
            settings["AWS_SECONDARY_REGION"] = ctx.primary if ctx.mutated("secondary-region-is-primary") else ctx.backup
        _broker_settings(ctx, settings)
        # IoT Core works only with the SQS queues (the database seeder may have set this already).
        if ctx.mutated("iot-postgres-queue"):
            ctx.environment["MESSAGE_QUEUE_TYPE"] = "postgres"
        else:
            ctx.environment.setdefault("MESSAGE_QUEUE_TYPE", "sqs")
    else:
        mqtt = _builtin_broker(ctx, vpc, subnets)
        ttl = 3600 if ctx.mutated("mqtt-record-high-ttl") else 60
        changes.append(_record(MQTT_HOST, mqtt["DNSName"], ttl=ttl))
        _broker_settings(ctx, {"MQTT_BROKER_TYPE": "builtin",
                               "MQTT_BROKER_ENDPOINT": f"tls://{MQTT_HOST}:{MQTT_PORT}"})
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    ctx.facts["broker"] = {"zone_id": zone_id, "server_load_balancer": server["LoadBalancerArn"],
                           "server_dns": server["DNSName"]}
