"""RSA facts: decoding the key as Spacelift does, fingerprints, secret references, escrow secrets and files
(testinfra's local backend), and the rule that a key's secret is read only when the config allows it."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.aws import SECRET_VALUE_READ, AwsAccess
from spacelift_dr.config import EncryptionSection
from spacelift_dr.demo.kms import encoded_key, rsa_private_key
from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.rsa import (
    RsaKeys,
    SecretDescription,
    SecretReference,
    inspect_rsa_key,
    public_key_fingerprint,
    read_escrow_file,
    remember_key,
)
from spacelift_dr.installation import Container, Installation, Service
from spacelift_dr.redaction import MASK, Redactor

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:spacelift/rsa-AbCdEf"


def pem(key: Any, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
        password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return bytes(key.private_bytes(serialization.Encoding.PEM, fmt, encryption))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_sound_key() -> None:
    key = rsa_private_key(2048)
    found = inspect_rsa_key(encoded_key(key))
    assert found.problem is None
    assert found.bits == 2048
    assert found.encoding == "base64"
    assert found.fingerprint == public_key_fingerprint(key)
    assert found.summary() == {"encoding": "base64", "problem": None, "bits": 2048,
                               "public_key_sha256": found.fingerprint}


@given(st.sampled_from([serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]),
       st.sampled_from([0, 64, 76]), st.booleans())
def test_fingerprint_does_not_depend_on_encoding(fmt: serialization.PrivateFormat, wrap: int, raw: bool) -> None:
    key = rsa_private_key(1024)
    encoded = pem(key, fmt).decode() if raw else b64(pem(key, fmt))
    if wrap and not raw:
        encoded = "\n".join(encoded[i:i + wrap] for i in range(0, len(encoded), wrap)) + "\n"
    found = inspect_rsa_key(encoded)
    assert found.fingerprint == public_key_fingerprint(key)
    assert found.encoding == ("PEM" if raw else "base64")
    assert found.bits == 1024


def test_short_key_reports_its_size() -> None:
    assert inspect_rsa_key(encoded_key(rsa_private_key(1024))).bits == 1024


def test_passphrase_protected_key() -> None:
    protected = pem(rsa_private_key(1024), password=b"secret-pass")
    found = inspect_rsa_key(b64(protected))
    assert found.problem is not None
    assert "passphrase" in found.problem
    assert found.fingerprint is None
    assert found.bits is None
    # The same protected key in another encoding is recognised as the same key, without a fingerprint.
    assert found.same_key_as(inspect_rsa_key(protected.decode()))
    assert not found.same_key_as(inspect_rsa_key(b64(pem(rsa_private_key(1024, "other"), password=b"x"))))
    assert "material" not in repr(found)


def test_not_an_rsa_key() -> None:
    found = inspect_rsa_key(b64(pem(ec.generate_private_key(ec.SECP256R1()))))
    assert found.problem is not None
    assert "not an RSA key" in found.problem


@pytest.mark.parametrize(("value", "problem"), [
    ("", "empty"), ("   ", "empty"), ("not base64 at all!", "not valid base64"),
    (b64(b"hello world"), "not to a PEM document"),
    (b64(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "not a readable PEM private key"),
])
def test_values_that_are_no_key(value: str, problem: str) -> None:
    found = inspect_rsa_key(value)
    assert found.problem is not None
    assert problem in found.problem
    assert found.fingerprint is None


@given(st.text(max_size=200))
def test_any_text_is_inspected_without_raising(value: str) -> None:
    found = inspect_rsa_key(value)
    assert found.problem is not None  # no random text is an RSA key


def test_remember_key_masks_every_form() -> None:
    value = encoded_key(rsa_private_key(1024))
    decoded = base64.b64decode(value).decode()
    body_lines = decoded.strip().splitlines()[1:-1]
    redactor = Redactor()
    remember_key(redactor, value)
    for form in (value, decoded, "".join(body_lines), *[line for line in body_lines if len(line) >= 16]):
        assert form not in redactor.text(f"x {form} y")
        assert MASK in redactor.text(f"x {form} y")


@given(st.sampled_from(["", ":ENCRYPTION_RSA_PRIVATE_KEY::", ":key:AWSCURRENT:", "::AWSPREVIOUS:",
                        ":key::v-1"]))
def test_secret_reference(suffix: str) -> None:
    found = SecretReference.parse(SECRET_ARN + suffix)
    assert found.secret_id == SECRET_ARN
    assert found.region == "eu-west-1"
    assert found.is_secrets_manager
    parts = ([*suffix.split(":"), "", "", "", ""])[1:4] if suffix else ["", "", ""]
    assert (found.json_key, found.version_stage, found.version_id) == tuple(p or None for p in parts)


def test_ssm_reference_is_not_secrets_manager() -> None:
    found = SecretReference.parse("arn:aws:ssm:eu-west-1:123456789012:parameter/spacelift/rsa")
    assert not found.is_secrets_manager


def test_secret_description() -> None:
    found = SecretDescription.from_api({"ARN": SECRET_ARN, "Name": "n", "ReplicationStatus": [
        {"Region": "eu-central-1", "Status": "Failed", "StatusMessage": "no key"}]})
    assert found.replica_status("eu-central-1") == "Failed"
    assert not found.in_sync_in("eu-central-1")
    assert found.replica_status("us-east-1") is None
    assert SecretDescription.from_api({"ARN": "a", "DeletedDate": "2026-01-01"}).deleted


def installation(secret_ref: str | None = None, plain: str | None = None) -> Installation:
    env = {"ENCRYPTION_RSA_PRIVATE_KEY": plain} if plain is not None else {}
    secrets = {"ENCRYPTION_RSA_PRIVATE_KEY": secret_ref} if secret_ref else {}
    services = {role: Service(role, role, f"td/{role}", (Container(role, "img", env, secrets),))
                for role in ("server", "drain", "scheduler")}
    return Installation("t", "eu-west-1", "eu-central-1", None, ("states",), services)


def keys(allow: bool, secret_ref: str | None = None, plain: str | None = None,
         **escrow: str) -> tuple[RsaKeys, Stubber, Redactor]:
    aws = AwsAccess(boto3.Session(aws_access_key_id="t", aws_secret_access_key="t"), max_attempts=1,
                    extra_read_operations=SECRET_VALUE_READ if allow else None)
    stubber = Stubber(aws.client("secretsmanager", "eu-west-1"))
    stubber.activate()
    redactor = Redactor()
    section = EncryptionSection.model_validate({"rsa_escrow": escrow, "allow_reading_rsa_secret": allow})
    return RsaKeys(aws, installation(secret_ref, plain), section, [], redactor), stubber, redactor


def test_key_secret_is_not_read_without_leave() -> None:
    facts, stubber, _ = keys(False, secret_ref=SECRET_ARN)
    with pytest.raises(Unobservable) as raised:
        facts.running_keys()
    assert "encryption.allow_reading_rsa_secret: true" in str(raised.value)
    stubber.assert_no_pending_responses()  # nothing was stubbed, and nothing was sent


def test_key_read_from_a_json_field_and_remembered() -> None:
    value = encoded_key(rsa_private_key(1024))
    facts, stubber, redactor = keys(True, secret_ref=SECRET_ARN + ":ENCRYPTION_RSA_PRIVATE_KEY::")
    secret_string = json.dumps({"ENCRYPTION_RSA_PRIVATE_KEY": value, "OTHER": "x"})
    stubber.add_response("get_secret_value", {"ARN": SECRET_ARN, "Name": "n", "SecretString": secret_string},
                         {"SecretId": SECRET_ARN})
    running = facts.running_keys()
    assert {i.bits for i in running.values() if i} == {1024}
    assert value not in redactor.text(value)
    assert secret_string not in redactor.text(secret_string)


def test_ssm_key_reference_is_unobservable() -> None:
    facts, _, _ = keys(True, secret_ref="arn:aws:ssm:eu-west-1:123456789012:parameter/spacelift/rsa")
    with pytest.raises(Unobservable, match="not a Secrets Manager secret"):
        facts.running_keys()


def test_running_secret_is_its_own_escrow_without_a_read() -> None:
    facts, stubber, _ = keys(False, secret_ref=SECRET_ARN)
    description = {"ARN": SECRET_ARN, "Name": "spacelift/rsa",
                   "ReplicationStatus": [{"Region": "eu-central-1", "Status": "InSync"}]}
    stubber.add_response("describe_secret", description, {"SecretId": SECRET_ARN})
    [copy] = facts.escrow_copies()
    assert copy.same_secret_as_running
    assert copy.problem is None
    assert copy.inspection is None


def test_plain_key_without_escrow_has_no_copies() -> None:
    facts, _, _ = keys(False, plain=encoded_key(rsa_private_key(1024)))
    assert facts.escrow_copies() == []


def test_escrow_host_path_needs_hosts() -> None:
    facts, _, _ = keys(False, plain="x", host_path="/etc/spacelift/rsa.key")
    with pytest.raises(Unobservable, match="lists no hosts"):
        facts.escrow_copies()


@pytest.mark.parametrize(("mode", "problem"), [(0o600, None), (0o400, None), (0o640, "mode 0640"),
                                               (0o644, "mode 0644"), (0o700, "mode 0700")])
def test_escrow_file_mode(mode: int, problem: str | None, tmp_path: Path) -> None:
    key = encoded_key(rsa_private_key(1024))
    path = tmp_path / "rsa.key"
    path.write_text(key)
    os.chmod(path, mode)
    redactor = Redactor()
    copy = read_escrow_file("local://", str(path), redactor)
    assert (copy.problem is None) == (problem is None)
    if problem:
        assert copy.problem is not None
        assert problem in copy.problem
    assert copy.inspection is not None
    assert copy.inspection.fingerprint == public_key_fingerprint(rsa_private_key(1024))
    assert copy.observed["mode"] == f"{mode:04o}"
    assert key not in redactor.text(key)


def test_escrow_file_as_raw_pem_matches(tmp_path: Path) -> None:
    path = tmp_path / "rsa.pem"
    path.write_bytes(pem(rsa_private_key(1024)))
    os.chmod(path, 0o600)
    copy = read_escrow_file("local://", str(path), Redactor())
    assert copy.inspection is not None
    assert copy.inspection.same_key_as(inspect_rsa_key(encoded_key(rsa_private_key(1024))))


def test_missing_escrow_file(tmp_path: Path) -> None:
    copy = read_escrow_file("local://", str(tmp_path / "absent.key"), Redactor())
    assert copy.problem is not None
    assert "no escrow file" in copy.problem


def test_unreachable_host_is_unobservable_not_missing() -> None:
    with pytest.raises(Unobservable, match=r"testinfra:connect"):
        read_escrow_file("ssh://nobody@127.0.0.1:1?timeout=2", "/etc/spacelift/rsa.key", Redactor())
