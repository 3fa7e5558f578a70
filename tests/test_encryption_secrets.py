"""The RSA private key never appears in any output, in any encoding: generated keys, given every way an
installation can give them, run through the whole suite; the HTML, JSON, JUnit and terminal output are
scanned for the base64 value, the PEM, its body and each of its lines."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.facts.rsa import public_key_fingerprint
from tests.scenario import run_checks

RSA = "ENCRYPTION_RSA_PRIVATE_KEY"


def forbidden_forms(key: rsa.RSAPrivateKey, value: str) -> set[str]:
    """Every form of the key a leak could take: as given, its PEM, the PEM body and lines, and the
    unencrypted PEM in both common formats."""
    forms = {value}
    pems = [base64.b64decode(value).decode()]
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        pems.append(key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode())
    for pem in pems:
        body = [line for line in pem.strip().splitlines() if not line.startswith("-----")]
        forms.update({pem, pem.strip(), "".join(body)})
        # A 64-character line is specific to the key; the short tail line could be any text.
        forms.update(line for line in body if len(line) >= 16)
    return forms


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bits=st.sampled_from([1024, 2048]), given_as=st.sampled_from(["secret", "plain env", "config"]),
       passphrase=st.booleans(), allow=st.booleans())
def test_rsa_private_key_never_appears_in_any_output(bits: int, given_as: str, passphrase: bool, allow: bool,
                                                     moto_server: DemoServer, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    moto_server.reset()
    mutations = ["rsa-mode"] + (["rsa-key-passphrase"] if passphrase else []) + (
        ["rsa-key-plain-env"] if given_as == "plain env" else [])
    with mock.patch("spacelift_dr.demo.kms.rsa_private_key", return_value=key):
        demo = seed(moto_server.url, mutations)
    value: str = demo.context.facts["rsa"]["value"]
    overrides: dict[str, Any] = {"encryption": {"rsa_escrow": {"secret_id": demo.context.facts["rsa"]["escrow_secret"]},
                                                "allow_reading_rsa_secret": allow}}
    if given_as == "config":
        overrides["installation"] = {"settings": {RSA: value}}
    capsys.readouterr()
    outcome = run_checks(demo, Path(tempfile.mkdtemp(dir=tmp_path)), "-rA", overrides=overrides,
                         capsys=capsys)

    sound = outcome.result("DR-RSA-01")
    if given_as != "secret" or allow:
        # The key was read, so the run knew it: the scan below is of a run that held the key.
        expected = None if passphrase else public_key_fingerprint(key)
        assert {k["public_key_sha256"] for k in sound["evidence"]["keys"].values()} == {expected}
    outputs = {name: (outcome.reports / name).read_text(encoding="utf-8")
               for name in ("dr-report.html", "dr-results.json", "dr-junit.xml")}
    outputs["terminal"] = outcome.output
    assert outcome.output.strip(), "the terminal output was captured"
    for where, text in outputs.items():
        leaked = [form[:12] + "…" for form in forbidden_forms(key, value) if form in text]
        assert not leaked, f"the RSA private key appears in {where}"
