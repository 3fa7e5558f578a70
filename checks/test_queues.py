"""Stateful components: message queues (DR guide, "Message queues")."""

from __future__ import annotations

from fixtures.requirements import requirement
from spacelift_dr.facts.queues import QUEUE_TYPE, QueueFacts, QueueType, configured_queues, queue_name
from spacelift_dr.installation import Installation
from spacelift_dr.results import Evidence


@requirement("DR-QUE-01")
def test_queues_need_nothing_beyond_the_database(installation: Installation, queue_facts: QueueFacts,
                                                 evidence: Evidence) -> None:
    evidence.about(QUEUE_TYPE, installation.primary_region)
    queue_type = QueueType.of(installation)
    evidence.observed(MESSAGE_QUEUE_TYPE=queue_type.per_service)
    assert any(queue_type.per_service.values()), (
        f"{QUEUE_TYPE} is not set on {', '.join(queue_type.per_service) or 'any service'}, expected postgres or sqs")
    assert queue_type.consistent, (
        f"{QUEUE_TYPE} differs between services ({queue_type.per_service}), expected one type everywhere")
    if queue_type.value == "postgres":
        evidence.message = "MESSAGE_QUEUE_TYPE is postgres: queue data lives in the database and is recovered with it"
        return
    assert queue_type.value == "sqs", f"{QUEUE_TYPE} is {queue_type.value}, expected postgres or sqs"
    configured = configured_queues(installation)
    found = {(name, url): queue_facts.exists(url) for name, urls in configured.items() for url in urls}
    evidence.observed(queues={name if len(configured[name]) == 1 else f"{name} ({queue_name(url)})":
                              {"queue": queue_name(url), "exists": exists} for (name, url), exists in found.items()})
    assert configured, "MESSAGE_QUEUE_TYPE is sqs but no MESSAGE_QUEUE_SQS_*_URL is set, expected the queue URLs"
    missing = [f"{name} ({queue_name(url)})" for (name, url), exists in found.items() if not exists]
    assert not missing, f"no such SQS queue for {', '.join(missing)}, expected every configured queue to exist"
    evidence.message = f"MESSAGE_QUEUE_TYPE is sqs and all {len(found)} configured queues exist"
