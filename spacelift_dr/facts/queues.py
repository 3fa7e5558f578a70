"""Message-queue facts: the queue type the services use and, for SQS, whether each configured queue exists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..aws import AwsAccess
from ..installation import Installation

QUEUE_TYPE = "MESSAGE_QUEUE_TYPE"
_SQS_URL_SETTING = re.compile(r"^MESSAGE_QUEUE_SQS_[A-Z0-9_]+_URL$")
# sqs.<region>.amazonaws.com (current) and <region>.queue.amazonaws.com (legacy) queue URLs.
_SQS_HOST = re.compile(r"^(?:sqs\.(?P<a>[a-z0-9-]+)|(?P<b>[a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?$")
_NO_SUCH_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue")


def queue_url_settings(names: set[str]) -> list[str]:
    """The ``MESSAGE_QUEUE_SQS_*_URL`` settings among ``names``, sorted."""
    return sorted(n for n in names if _SQS_URL_SETTING.match(n))


def configured_queues(installation: Installation) -> dict[str, list[str]]:
    """Every non-empty ``MESSAGE_QUEUE_SQS_*_URL`` → the distinct URLs the services give it (a setting that
    differs between server, drain and scheduler has more than one)."""
    found: dict[str, set[str]] = {}
    for name in queue_url_settings(installation.setting_names()):
        for role in installation.settings_per_service(name):
            url = installation.value(name, role)
            if url:
                found.setdefault(name, set()).add(url)
    return {name: sorted(urls) for name, urls in sorted(found.items())}


def queue_region(url: str, default: str) -> str:
    """The region in an SQS queue URL's host; ``default`` for hosts that name none (custom endpoints)."""
    host = (urlsplit(url).hostname or "").lower()
    match = _SQS_HOST.match(host)
    if not match:
        return default
    return match.group("a") or match.group("b")


def queue_name(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class QueueType:
    """MESSAGE_QUEUE_TYPE as each service sees it (None: not set on that service)."""

    per_service: dict[str, str | None]

    @classmethod
    def of(cls, installation: Installation) -> QueueType:
        roles = installation.settings_per_service(QUEUE_TYPE)
        return cls({role: installation.value(QUEUE_TYPE, role) for role in roles})

    @property
    def values(self) -> set[str]:
        return {v for v in self.per_service.values() if v}

    @property
    def consistent(self) -> bool:
        return len(self.values) == 1 and all(self.per_service.values())

    @property
    def value(self) -> str | None:
        """The one queue type every service uses, or None when they differ or it is unset."""
        return next(iter(self.values)) if self.consistent else None


class QueueFacts:
    """Whether a queue URL names an existing queue (GetQueueAttributes, once per URL per run)."""

    def __init__(self, aws: AwsAccess, primary_region: str) -> None:
        self._aws = aws
        self._primary = primary_region

    def exists(self, url: str) -> bool:
        response = self._aws.call("sqs", queue_region(url, self._primary), "GetQueueAttributes",
                                  resource=queue_name(url), absent=_NO_SUCH_QUEUE,
                                  QueueUrl=url, AttributeNames=["QueueArn"])
        return response is not None
