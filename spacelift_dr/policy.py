"""The least-privilege IAM policy the suite needs, generated from the read-only allowlist.

``python -m spacelift_dr.policy`` prints it; ``policy/dr-suite-readonly.json`` is the published copy
(a test keeps the two identical). Reading the RSA key's secret is a separate, optional policy: only a
config with ``encryption.allow_reading_rsa_secret: true`` makes that call.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .aws import READ_ONLY_OPERATIONS, SECRET_VALUE_READ, iam_action

POLICY_FILE = "policy/dr-suite-readonly.json"
SECRET_POLICY_FILE = "policy/dr-suite-read-rsa-secret.json"


def required_actions(operations: dict[str, Any] = READ_ONLY_OPERATIONS) -> list[str]:
    return sorted({iam_action(service, operation) for service, ops in operations.items() for operation in ops})


def least_privilege_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SpaceliftDrSuiteReadOnly",
            "Effect": "Allow",
            "Action": required_actions(),
            "Resource": "*",
        }],
    }


def rsa_secret_policy() -> dict[str, Any]:
    """Only with allow_reading_rsa_secret: narrow Resource to the key's secret and its KMS key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadTheRsaKeySecret", "Effect": "Allow", "Action": required_actions(SECRET_VALUE_READ),
             "Resource": "arn:aws:secretsmanager:REGION:ACCOUNT:secret:SECRET-NAME-*"},
            {"Sid": "DecryptTheRsaKeySecret", "Effect": "Allow", "Action": ["kms:Decrypt"],
             "Resource": "arn:aws:kms:REGION:ACCOUNT:key/KEY-ID",
             "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.REGION.amazonaws.com"}}},
        ],
    }


def render(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2) + "\n"


def main(argv: list[str]) -> int:
    which = argv[1] if len(argv) > 1 else "readonly"
    sys.stdout.write(render(rsa_secret_policy() if which == "rsa-secret" else least_privilege_policy()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
