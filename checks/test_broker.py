"""Broker: how workers and users reach the control plane, and whether that survives failover
(DR guide, "Workers": built-in MQTT broker and IoT Core)."""

from __future__ import annotations

from fixtures.requirements import requirement
from spacelift_dr.config import Policy
from spacelift_dr.facts.broker import (
    BROKER_TYPES,
    BrokerFacts,
    BrokerSettings,
    LoadBalancer,
    NamedHost,
    active_ids,
    is_iot_default_endpoint,
    is_ip_address,
    is_provider_generated,
    worker_certificate_gaps,
)
from spacelift_dr.installation import Installation, per_service
from spacelift_dr.results import Evidence, NotApplicable, utc_now


@requirement("DR-BRK-01")
def test_one_broker_type_configured_everywhere(broker_settings: BrokerSettings, installation: Installation,
                                               evidence: Evidence) -> None:
    types, endpoints = broker_settings.broker_types, broker_settings.endpoints
    evidence.about("MQTT_BROKER_TYPE")
    if installation.declared_once("MQTT_BROKER_TYPE", "MQTT_BROKER_ENDPOINT"):
        raise NotApplicable("MQTT_BROKER_TYPE and MQTT_BROKER_ENDPOINT are declared once in the config for "
                            "server and drain: no service's own value was observed to compare")
    evidence.observed(MQTT_BROKER_TYPE=types, MQTT_BROKER_ENDPOINT=endpoints)
    assert all(t in BROKER_TYPES for t in types.values()), (
        f"MQTT_BROKER_TYPE is {per_service(types)}, expected builtin or iotcore on each of {', '.join(types)}")
    assert len(set(types.values())) == 1, f"MQTT_BROKER_TYPE differs between services: {per_service(types)}"
    unset = [role for role, endpoint in endpoints.items() if not endpoint]
    assert not unset, f"MQTT_BROKER_ENDPOINT is not set on {', '.join(unset)}"
    evidence.message = f"{broker_settings.broker_type} broker at {broker_settings.endpoint} on {', '.join(types)}"


@requirement("DR-BRK-02")
def test_name_is_one_the_organisation_controls(broker_name: NamedHost, evidence: Evidence) -> None:
    host = broker_name.host
    evidence.observed(setting=broker_name.setting, value=broker_name.value, host=host)
    assert host, f"{broker_name.setting} is not set, expected a DNS name the organisation controls"
    assert not is_ip_address(host), f"{broker_name.setting} is the IP address {host}, expected a DNS name"
    assert not is_provider_generated(host), (
        f"{broker_name.setting} host {host} is a name AWS generated for one region's resource, "
        f"expected a name in a domain the organisation controls")
    evidence.message = f"{broker_name.setting} host {host} is not a provider-generated name"


@requirement("DR-BRK-03")
def test_dns_record_is_ready_to_switch(switch_name: NamedHost, broker_facts: BrokerFacts, policy: Policy,
                                       evidence: Evidence) -> None:
    host = switch_name.host
    assert host, f"{switch_name.setting} is not set: there is no name to look up"
    routes = broker_facts.routes(host)
    if not routes:
        raise NotApplicable(f"{switch_name.setting} host {host} is in no Route 53 hosted zone of the account")
    evidence.observed(host=host, hosted_zones=[z.summary() for z in routes],
                      records=[r.summary() for found in routes.values() for r in found])
    problems = [f"no A, AAAA or CNAME record for {host} in {'private' if z.private else 'public'} zone {z.name}"
                for z, found in routes.items() if not found]
    for route in (r for found in routes.values() for r in found):
        if route.dangling_targets:
            problems.append(f"{route.record.type} record points at {', '.join(route.dangling_targets)}, which is "
                            f"no load balancer in {broker_facts.primary} or {broker_facts.backup}, CloudFront "
                            f"distribution, Global Accelerator accelerator or IoT data endpoint of the account")
        if route.ttl is None or route.ttl > policy.dns_max_ttl_seconds:
            chain = [name for t in route.targets for name in t.via]
            problems.append(f"{route.record.type} record TTL is {route.ttl} s"
                            + (f" (the largest along {host} → {' → '.join(chain)})" if chain else ""))
    assert not problems, "; ".join(problems) + (
        f" (expected alias or CNAME records to existing targets with TTL ≤ {policy.dns_max_ttl_seconds} s)")
    kinds = sorted({t.kind for found in routes.values() for r in found for t in r.targets if t.kind})
    evidence.message = (f"{host} points at existing {', '.join(kinds) or 'targets'} with TTL ≤ "
                        f"{policy.dns_max_ttl_seconds} s in {', '.join(z.name for z in routes)}")


@requirement("DR-BRK-04")
def test_iot_core_uses_a_custom_domain(iot_core: BrokerSettings, evidence: Evidence) -> None:
    host = iot_core.endpoint_host
    evidence.about("MQTT_BROKER_ENDPOINT")
    evidence.observed(MQTT_BROKER_ENDPOINT=iot_core.endpoint, host=host)
    assert host, "MQTT_BROKER_ENDPOINT is not set, expected the custom IoT domain"
    assert not is_iot_default_endpoint(host), (
        f"MQTT_BROKER_ENDPOINT is the AWS IoT default endpoint {host}, which belongs to one region; "
        f"expected a custom domain served by an IoT domain configuration")
    evidence.message = f"MQTT_BROKER_ENDPOINT {host} is a custom domain"


@requirement("DR-BRK-05")
def test_custom_iot_domain_exists_in_both_regions(iot_core: BrokerSettings, broker_facts: BrokerFacts,
                                                  installation: Installation, evidence: Evidence) -> None:
    host = iot_core.endpoint_host
    evidence.about("MQTT_BROKER_ENDPOINT")
    assert host, "MQTT_BROKER_ENDPOINT is not set: no IoT domain to look for"
    regions = (installation.primary_region, installation.backup_region)
    serving = {region: [c for c in broker_facts.domain_configurations(region) if c.serves(host)]
               for region in regions}
    evidence.observed(domain=host, configurations={r: [c.summary() for c in found] for r, found in serving.items()})
    lacking = {region: "; ".join(p for c in found for p in c.problems) or "none"
               for region, found in serving.items() if not any(c.usable for c in found)}
    assert not lacking, "; ".join(f"{region}: no usable domain configuration for {host} ({what})"
                                  for region, what in lacking.items()) + (
        " (expected one ENABLED, serviceType DATA, every server certificate VALID)")
    evidence.message = (f"an ENABLED DATA domain configuration with VALID server certificates serves {host} "
                        f"in {' and '.join(regions)}")


@requirement("DR-BRK-06")
def test_worker_certificates_follow_to_backup_region(iot_core: BrokerSettings, installation: Installation,
                                                     evidence: Evidence) -> None:
    secondary, region = iot_core.secondary_region, iot_core.aws_region
    evidence.about("AWS_SECONDARY_REGION")
    evidence.observed(AWS_SECONDARY_REGION=secondary, AWS_REGION=region, backup_region=installation.backup_region)
    problems = []
    for role, value in secondary.items():
        if not value:
            problems.append(f"unset on {role}")
        elif value == region.get(role):
            problems.append(f"{value} on {role}, the same as its AWS_REGION")
        elif value != installation.backup_region:
            problems.append(f"{value} on {role}")
    assert not problems, (f"AWS_SECONDARY_REGION is {'; '.join(problems)}, expected {installation.backup_region} "
                          f"(the backup region, not AWS_REGION) on {', '.join(secondary)}")
    evidence.message = f"AWS_SECONDARY_REGION is {installation.backup_region} on {', '.join(secondary)}"


@requirement("DR-BRK-07")
def test_worker_certificates_present_in_backup_region(iot_core: BrokerSettings, broker_facts: BrokerFacts,
                                                      installation: Installation, evidence: Evidence) -> None:
    primary, backup = installation.primary_region, installation.backup_region
    evidence.about(f"iot certificates in {primary}", primary)
    in_primary, in_backup = broker_facts.iot_certificates(primary), broker_facts.iot_certificates(backup)
    policies = broker_facts.policies_of_active(primary, in_primary)
    workers = {cid for cid, attached in policies.items() if attached}
    if not workers:  # "all 0 worker certificates are ready" would be a PASS over nothing
        raise NotApplicable(f"no ACTIVE worker certificate (one with an IoT policy attached) in {primary}: no "
                            f"worker has registered with IoT Core")
    backup_policies = broker_facts.policies_of_active(backup, in_backup, only=workers)
    gaps = worker_certificate_gaps(in_primary, policies, in_backup, backup_policies)
    evidence.observed(active_in_primary=len(active_ids(in_primary)), worker_certificates_in_primary=len(workers),
                      active_in_backup=len(active_ids(in_backup)), not_ready_in_backup=dict(list(gaps.items())[:20]),
                      not_ready_count=len(gaps))
    assert not gaps, (
        f"{len(gaps)} of {len(workers)} worker certificates (ACTIVE with a policy attached in {primary}) are not "
        f"ready in {backup}: " + ", ".join(f"{cid[:12]}… ({why})" for cid, why in list(gaps.items())[:5])
        + " (expected each ACTIVE there with the same policies attached)")
    evidence.message = (f"all {len(workers)} worker certificates of {primary} are ACTIVE in {backup} with the same "
                        f"policies attached")


@requirement("DR-BRK-08")
def test_iot_core_is_paired_with_sqs(iot_core: BrokerSettings, evidence: Evidence) -> None:
    queues = iot_core.message_queue_type
    evidence.about("MESSAGE_QUEUE_TYPE")
    evidence.observed(MESSAGE_QUEUE_TYPE=queues)
    other = {role: value for role, value in queues.items() if value != "sqs"}
    assert not other, f"MESSAGE_QUEUE_TYPE is {per_service(other)} with IoT Core, expected sqs"
    evidence.message = f"MESSAGE_QUEUE_TYPE is sqs on {', '.join(queues)}"


@requirement("DR-BRK-09")
def test_server_certificate_will_not_lapse(server_load_balancers: list[LoadBalancer], broker_facts: BrokerFacts,
                                           broker_settings: BrokerSettings, installation: Installation,
                                           policy: Policy, evidence: Evidence) -> None:
    host, minimum, now = broker_settings.server_host, policy.certificate_min_days_valid, utc_now()
    backup = installation.backup_region
    tls = [(lb, listener) for lb in server_load_balancers for listener in broker_facts.listeners(lb)
           if listener.terminates_tls]
    assert tls, (f"no HTTPS or TLS listener on {', '.join(lb.name for lb in server_load_balancers)}, "
                 f"expected one with an ACM certificate for {host}")
    assert host, "SERVER_DOMAIN is not set: no name the certificate must cover"
    certificates = [broker_facts.acm_certificate(arn) for lb, listener in tls
                    for arn in broker_facts.listener_certificates(lb, listener)]
    found = [c for c in certificates if c is not None]
    waiting = broker_facts.certificates_covering(host, backup)
    evidence.observed(server_domain=host, tls_listeners=[listener.arn for _, listener in tls],
                      certificates=[c.summary(now) for c in found],
                      missing_certificates=len(certificates) - len(found),
                      issued_in_backup_region=[c.summary(now) for c in waiting])
    covering = [c for c in found if c.covers(host)]
    assert covering, (f"no certificate on the HTTPS or TLS listener covers {host} "
                      f"(names: {', '.join(n for c in found for n in c.names) or 'none'})")
    lasting = [c for c in covering if c.status == "ISSUED" and (c.days_valid(now) or -1) >= minimum]
    best = max(covering, key=lambda c: c.days_valid(now) or -1)
    assert lasting, (f"the certificate for {host} is {best.status} and valid for "
                     f"{best.days_valid(now) or 0:.0f} more days, expected ISSUED and at least {minimum}")
    ready = [c for c in waiting if (c.days_valid(now) or -1) >= minimum]
    assert ready, (f"no ISSUED ACM certificate covering {host} in {backup} is valid for {minimum} more days "
                   f"({len(waiting)} ISSUED cover it: "
                   f"{', '.join(f'{c.arn} {c.days_valid(now) or 0:.0f} days' for c in waiting) or 'none'}), "
                   f"expected one waiting for a replacement load balancer there (ACM certificates are regional)")
    evidence.message = (f"{lasting[0].arn} covers {host} and is valid for {lasting[0].days_valid(now) or 0:.0f} "
                        f"more days; {ready[0].arn} waits in {backup}")
