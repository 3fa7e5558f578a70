"""RSA mode (DR-RSA-01 … 03) against a seeded moto server: the DR-ready RSA installation passes, each
mutation fails exactly its requirement, and a key behind a secret is read only when the config allows it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from spacelift_dr.demo import Demo, DemoServer, seed
from spacelift_dr.demo.kms import encoded_key, rsa_private_key
from tests.scenario import Outcome, denied, run_checks

RSA = "ENCRYPTION_RSA_PRIVATE_KEY"
KMS_ONLY = ("DR-KMS-02", "DR-KMS-03", "DR-KMS-04", "DR-KMS-05")


def escrow_config(demo: Demo, allow: bool = True, **escrow: Any) -> dict[str, Any]:
    """The config an RSA installation gives: the escrow secret, and leave to read the key's secret."""
    return {"encryption": {"rsa_escrow": {"secret_id": demo.context.facts["rsa"]["escrow_secret"], **escrow},
                           "allow_reading_rsa_secret": allow}}


@pytest.fixture(scope="module")
def rsa_ready(moto_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """The whole suite's verdicts on the DR-ready installation in RSA mode."""
    moto_server.reset()
    demo = seed(moto_server.url, ["rsa-mode"])
    yield run_checks(demo, tmp_path_factory.mktemp("rsa-ready"), overrides=escrow_config(demo))
    moto_server.reset()


def test_dr_ready_rsa_installation_passes(rsa_ready: Outcome) -> None:
    for requirement in ("DR-RSA-01", "DR-RSA-02", "DR-RSA-03", "DR-KMS-01"):
        result = rsa_ready.result(requirement)
        assert result["status"] == "PASS", result["message"]
    for requirement in KMS_ONLY:
        assert {r["status"] for r in rsa_ready.results if r["requirement"] == requirement} == {"N/A"}
    sound = rsa_ready.result("DR-RSA-01")
    fingerprint = sound["evidence"]["keys"]["server"]["public_key_sha256"]
    assert fingerprint.startswith("sha256:")
    assert len(fingerprint) == len("sha256:") + 64
    assert sound["evidence"]["keys"]["server"]["bits"] == 2048
    assert fingerprint in sound["message"]
    escrow = rsa_ready.result("DR-RSA-02")["evidence"]
    assert escrow["running_public_key_sha256"] == [fingerprint]
    assert escrow["escrow"][0]["public_key_sha256"] == fingerprint
    assert escrow["escrow"][0]["secret"]["ReplicationStatus"] == {"eu-central-1": "InSync"}


BREAKS = {
    "rsa-key-short": ("DR-RSA-01", "on server: a 1024-bit key"),
    "rsa-key-passphrase": ("DR-RSA-01", "protected with a passphrase"),
    "rsa-key-plain-env": ("DR-RSA-03", "is a plain environment value (or not set) on server, drain, scheduler"),
    "rsa-escrow-missing": ("DR-RSA-02", "spacelift/rsa-escrow-ab12c does not exist"),
    "rsa-escrow-other-key": ("DR-RSA-02", "holds another key"),
    "rsa-escrow-not-replicated": ("DR-RSA-02", "is not replicated to eu-central-1 (replica status: no replica"),
}

# Results a mutation removes: with the key a plain value, no task definition references the key's secret, so
# DR-SVC-04 has no result for it.
GONE = {"rsa-key-plain-env": {"DR-SVC-04:spacelift/rsa-private-key-ab12c"}}


@pytest.mark.parametrize("mutation", sorted(BREAKS))
def test_rsa_mutation_fails_exactly_its_requirement(mutation: str, rsa_ready: Outcome, moto: DemoServer,
                                                    tmp_path: Path) -> None:
    demo = seed(moto.url, [mutation])
    broken = run_checks(demo, tmp_path, overrides=escrow_config(demo))
    gone = GONE.get(mutation, set())
    assert gone <= rsa_ready.verdicts.keys()
    assert broken.verdicts.keys() == rsa_ready.verdicts.keys() - gone
    changed = {k: v for k, v in broken.verdicts.items() if rsa_ready.verdicts[k] != v}
    requirement, message = BREAKS[mutation]
    assert changed == {f"{requirement}:{RSA}": "FAIL"}
    assert message in broken.result(requirement)["message"]


def test_mismatched_encryption_type_fails_only_kms_01(rsa_ready: Outcome, moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, ["rsa-mode", "encryption-type-mismatch"])
    broken = run_checks(demo, tmp_path, overrides=escrow_config(demo))
    changed = {k: (rsa_ready.verdicts[k], v) for k, v in broken.verdicts.items() if rsa_ready.verdicts[k] != v}
    assert {k for k, (_, now) in changed.items() if now == "FAIL"} == {"DR-KMS-01:ENCRYPTION_TYPE"}
    # The scheduler runs kms, so the KMS keys are in use again: they apply, and this installation's hold.
    others = {k: change for k, change in changed.items() if k != "DR-KMS-01:ENCRYPTION_TYPE"}
    assert {k.split(":")[0] for k in others} == set(KMS_ONLY)
    assert set(others.values()) == {("N/A", "PASS")}
    assert "scheduler: kms" in broken.result("DR-KMS-01")["message"]


def test_key_secret_is_not_read_unless_the_config_allows_it(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, ["rsa-mode"])
    sent: list[str] = []
    hooks = [("before-call.secretsmanager.GetSecretValue", lambda **_: sent.append("GetSecretValue"))]
    outcome = run_checks(demo, tmp_path, "-m", "encryption", hooks=hooks, overrides=escrow_config(demo, allow=False))
    sound = outcome.result("DR-RSA-01")
    assert sound["status"] == "ERROR"
    assert "encryption.allow_reading_rsa_secret: true" in sound["message"]
    assert "secretsmanager:GetSecretValue" in sound["message"]
    assert outcome.status("DR-RSA-02") == "ERROR"  # the escrow secret is another secret: it needs reading too
    assert outcome.status("DR-RSA-03") == "PASS"
    assert sent == []
    assert "secretsmanager:GetSecretValue" not in outcome.document["api_calls"]["by_action"]


def test_replicated_key_secret_is_its_own_escrow_without_reading_it(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, ["rsa-mode"])
    outcome = run_checks(demo, tmp_path, "-m", "encryption")
    escrow = outcome.result("DR-RSA-02")
    assert escrow["status"] == "PASS", escrow["message"]
    assert escrow["evidence"]["escrow"][0]["running_key_secret"] is True
    assert outcome.status("DR-RSA-01") == "ERROR"


def test_denied_secret_read_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, ["rsa-mode"])
    outcome = run_checks(demo, tmp_path, "-m", "encryption", overrides=escrow_config(demo),
                         hooks=denied("GetSecretValue", "secretsmanager"))
    for requirement in ("DR-RSA-01", "DR-RSA-02"):
        result = outcome.result(requirement)
        assert result["status"] == "ERROR"
        assert result["message"].startswith("secretsmanager:GetSecretValue denied on arn:aws:secretsmanager:")


def test_denied_escrow_description_is_an_error(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, ["rsa-mode"])
    outcome = run_checks(demo, tmp_path, "-m", "encryption", overrides=escrow_config(demo),
                         hooks=denied("DescribeSecret", "secretsmanager"))
    assert outcome.status("DR-RSA-02") == "ERROR"
    assert "secretsmanager:DescribeSecret denied on spacelift/rsa-escrow-ab12c" in outcome.result("DR-RSA-02")[
        "message"]


@pytest.mark.parametrize(("mode", "key", "status", "message"), [
    # Other modes, a missing file and raw PEM files are covered on the facts (tests/test_rsa_facts.py).
    (0o600, "running", "PASS", ""),
    (0o644, "running", "FAIL", "has mode 0644, expected 0600 or stricter"),
    (0o600, "other", "FAIL", "holds another key"),
])
def test_escrow_file_on_a_host(mode: int, key: str, status: str, message: str, moto: DemoServer,
                               tmp_path: Path) -> None:
    demo = seed(moto.url, ["rsa-mode", "rsa-escrow-missing"])
    path = tmp_path / "escrow" / "spacelift-rsa.key"
    path.parent.mkdir()
    path.write_text(demo.context.facts["rsa"]["value"] if key == "running"
                    else encoded_key(rsa_private_key(2048, "other")))
    os.chmod(path, mode)
    overrides = {"encryption": {"rsa_escrow": {"host_path": str(path)}, "allow_reading_rsa_secret": True},
                 "hosts": ["local://"]}
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-RSA-02", overrides=overrides)
    result = outcome.result("DR-RSA-02")
    assert result["status"] == status, result["message"]
    assert message in result["message"]
    files = [c for c in result["evidence"]["escrow"] if c["kind"] == "file"]
    assert [c["location"] for c in files] == [f"local://{path}"]


@pytest.mark.parametrize(("key", "status"), [("running", "PASS"), ("other", "FAIL")])
def test_escrow_secret_created_in_the_backup_region_is_a_copy(key: str, status: str, moto: DemoServer,
                                                              tmp_path: Path) -> None:
    # Not replicated, but living in the backup region: it survives the primary region's loss by itself.
    demo = seed(moto.url, ["rsa-mode", "rsa-escrow-missing"])
    value = demo.context.facts["rsa"]["value"] if key == "running" else encoded_key(rsa_private_key(2048, "other"))
    backup = boto3.client("secretsmanager", region_name="eu-central-1", endpoint_url=moto.url,
                          aws_access_key_id="test", aws_secret_access_key="test")
    arn = backup.create_secret(Name="spacelift/rsa-escrow-dr", SecretString=value)["ARN"]
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-RSA-02",
                         overrides={"encryption": {"rsa_escrow": {"secret_id": arn}, "allow_reading_rsa_secret": True}})
    result = outcome.result("DR-RSA-02")
    assert result["status"] == status, result["message"]
    (copy,) = result["evidence"]["escrow"]
    assert copy["created_in_backup_region"] is True
    assert copy["problem"] is None
    if status == "FAIL":
        assert "holds another key" in result["message"]


def _without_rsa_key(parsed: dict[str, Any], **_: Any) -> None:
    """Task definitions that no longer carry ENCRYPTION_RSA_PRIVATE_KEY (API-shaped: the answer's own lists)."""
    for container in parsed.get("taskDefinition", {}).get("containerDefinitions", []):
        for part in ("secrets", "environment"):
            container[part] = [e for e in container.get(part, []) if e.get("name") != RSA]


def test_an_escrow_copy_without_a_running_key_to_match_is_no_pass(moto: DemoServer, tmp_path: Path) -> None:
    demo = seed(moto.url, ["rsa-mode"])
    outcome = run_checks(demo, tmp_path, "--dr-requirement", "DR-RSA-02", overrides=escrow_config(demo),
                         hooks=[("after-call.ecs.DescribeTaskDefinition", _without_rsa_key)])
    result = outcome.result("DR-RSA-02")
    assert result["status"] == "FAIL", result["message"]
    assert "no running key" in result["message"]
