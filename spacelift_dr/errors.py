"""The two ways a run can go wrong, kept apart because they end differently.

``ConfigError`` stops the run before any check (a usage error naming file, key and expectation).
``Unobservable`` stops one check: the fact it needed could not be observed, so its verdict is ERROR,
never PASS or FAIL.
"""

from __future__ import annotations


class ConfigError(Exception):
    """Bad input: a config, waiver file or setting that cannot be used. One clear message."""

    def __init__(self, source: str, key: str, expected: str, got: str | None = None) -> None:
        self.source = source
        self.key = key
        self.expected = expected
        self.got = got
        detail = f"{source}: {key}: expected {expected}"
        if got is not None:
            detail += f", got {got}"
        super().__init__(detail)


class Unobservable(Exception):
    """A fact could not be observed: the check that needs it ends in ERROR.

    ``action`` is the API action or connection (``s3:GetBucketReplication``, ``postgres:connect``),
    ``resource`` what it was made on, ``reason`` what went wrong (``AccessDenied``, ``timed out``).
    """

    def __init__(self, action: str, resource: str, reason: str) -> None:
        self.action = action
        self.resource = resource
        self.reason = reason
        super().__init__(f"{action} failed on {resource}: {reason}")


class ReadOnlyViolation(Exception):
    """An operation outside the read-only allowlist was attempted; it was refused before sending."""

    def __init__(self, action: str) -> None:
        self.action = action
        super().__init__(f"refused {action}: not a read-only operation on the suite's allowlist")
