"""RSA-mode facts: the running ``ENCRYPTION_RSA_PRIVATE_KEY`` and its escrow copies.

The key itself never leaves this module: what comes out is an :class:`RsaKeyInspection` (size, whether
it parsed, the SHA-256 fingerprint of its public key) and escrow observations. Every key value read is
handed to the run's redactor first, in all the encodings it could appear in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..aws import AwsAccess, remember
from ..errors import Unobservable
from ..installation import Installation, Setting
from ..redaction import Redactor
from .s3 import arn_region

# cryptography is imported where a key is decoded, and the config models (pydantic) with the first config:
# collection and `pytest --help` do without either.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from ..config import EncryptionSection

RSA_SETTING = "ENCRYPTION_RSA_PRIVATE_KEY"
_PEM_BODY = re.compile(r"-----BEGIN [A-Z ]+-----(?P<body>.*?)-----END [A-Z ]+-----", re.DOTALL)
_ALLOW_KEY = "encryption.allow_reading_rsa_secret"


@dataclass(frozen=True)
class RsaKeyInspection:
    """What can be said about a key value without ever showing it.

    ``encoding`` is how the value was given (``base64`` of a PEM, or a raw ``PEM``); ``problem`` says
    why it is not a usable RSA private key (None when it is one); ``fingerprint`` is
    ``sha256:<hex>`` of the DER public key.
    """

    encoding: str
    problem: str | None
    bits: int | None
    fingerprint: str | None
    # Identity of the key material when no fingerprint exists (a passphrase-protected key): compared,
    # never shown.
    material_digest: str = field(default="", repr=False, compare=False)

    @property
    def parsed(self) -> bool:
        return self.problem is None

    def same_key_as(self, other: RsaKeyInspection) -> bool:
        if self.fingerprint and other.fingerprint:
            return self.fingerprint == other.fingerprint
        return bool(self.material_digest) and self.material_digest == other.material_digest

    def summary(self) -> dict[str, Any]:
        return {"encoding": self.encoding, "problem": self.problem, "bits": self.bits,
                "public_key_sha256": self.fingerprint}


def public_key_fingerprint(key: rsa.RSAPrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def inspect_rsa_key(value: str) -> RsaKeyInspection:
    """Decode a key as Spacelift reads it (base64 of a PEM); a raw PEM is recognised and named as such."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    text = value.strip()
    if not text:
        return RsaKeyInspection("empty", "the value is empty", None, None)
    if text.startswith("-----BEGIN"):
        encoding, pem = "PEM", text.encode()
    else:
        encoding = "base64"
        try:
            pem = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            return RsaKeyInspection(encoding, "not valid base64 (Spacelift expects the base64 of a PEM key)",
                                    None, None)
        if b"-----BEGIN" not in pem:
            return RsaKeyInspection(encoding, "decodes from base64, but not to a PEM document", None, None)
    digest = hashlib.sha256(b"".join(pem.split())).hexdigest()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        # cryptography's way of saying the PEM is encrypted and no password was given.
        return RsaKeyInspection(encoding, "protected with a passphrase (Spacelift needs an unencrypted key)",
                                None, None, digest)
    except (ValueError, UnsupportedAlgorithm):
        return RsaKeyInspection(encoding, "not a readable PEM private key", None, None, digest)
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "")
        return RsaKeyInspection(encoding, f"a {kind} key, not an RSA key", None, None, digest)
    return RsaKeyInspection(encoding, None, key.key_size, public_key_fingerprint(key), digest)


def remember_key(redactor: Redactor, value: str) -> None:
    """Teach the redactor a key value in every form it could appear in: as given, base64, PEM, PEM body."""
    redactor.add(value)
    text = value.strip()
    try:
        decoded = base64.b64decode("".join(text.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        decoded = text
    redactor.add(decoded)
    for match in _PEM_BODY.finditer(decoded):
        body = match.group("body")
        redactor.add("".join(body.split()))
        # Short tail lines would mask ordinary text; the redactor's own net uses the same bound.
        for line in body.splitlines():
            if len(line.strip()) >= 16:
                redactor.add(line.strip())


@dataclass(frozen=True)
class SecretReference:
    """An ECS ``secrets[].valueFrom``: a Secrets Manager ARN with optional ``:json-key:stage:version``,
    or an SSM parameter."""

    value_from: str
    secret_id: str
    region: str | None
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None

    @classmethod
    def parse(cls, value_from: str) -> SecretReference:
        parts = value_from.split(":")
        if value_from.startswith("arn:") and len(parts) >= 7 and parts[2] == "secretsmanager":
            extra = [*parts[7:], "", "", ""]
            return cls(value_from, ":".join(parts[:7]), parts[3] or None,
                       extra[0] or None, extra[1] or None, extra[2] or None)
        return cls(value_from, value_from, arn_region(value_from))

    @property
    def is_secrets_manager(self) -> bool:
        return self.value_from.startswith("arn:") and self.value_from.split(":")[2:3] == ["secretsmanager"]


@dataclass(frozen=True)
class SecretDescription:
    """``DescribeSecret``: the secret's ARN, whether it is scheduled for deletion, its replicas."""

    arn: str
    name: str
    deleted: bool
    replication: tuple[tuple[str, str], ...]  # (region, status)

    @classmethod
    def from_api(cls, response: dict[str, Any]) -> SecretDescription:
        return cls(
            arn=str(response.get("ARN", "")),
            name=str(response.get("Name", "")),
            deleted=response.get("DeletedDate") is not None,
            replication=tuple((str(r.get("Region", "")), str(r.get("Status", "unknown")))
                              for r in response.get("ReplicationStatus") or []),
        )

    def replica_status(self, region: str) -> str | None:
        return next((status for where, status in self.replication if where == region), None)

    def in_sync_in(self, region: str) -> bool:
        return self.replica_status(region) == "InSync"

    def summary(self) -> dict[str, Any]:
        return {"ARN": self.arn, "DeletedDate": "set" if self.deleted else None,
                "ReplicationStatus": {region: status for region, status in self.replication}}


@dataclass(frozen=True)
class EscrowCopy:
    """One escrow copy of the key: a secret or a file on one host, and what was observed of it."""

    kind: str  # secret | file
    location: str
    problem: str | None  # missing, not replicated, readable by others; None when the copy is in place
    inspection: RsaKeyInspection | None  # None when the copy is the running key's own secret, or missing
    same_secret_as_running: bool = False
    observed: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": self.location, "problem": self.problem,
                "public_key_sha256": self.inspection.fingerprint if self.inspection else None,
                "running_key_secret": self.same_secret_as_running, **self.observed}


def _key_in_secret(secret_string: str, json_key: str | None, where: str) -> str:
    if json_key is None:
        return secret_string
    try:
        document = json.loads(secret_string)
    except ValueError:
        raise Unobservable("secretsmanager:GetSecretValue", where,
                           f"the reference names JSON key {json_key} but the secret is not JSON") from None
    value = document.get(json_key) if isinstance(document, dict) else None
    if not isinstance(value, str):
        raise Unobservable("secretsmanager:GetSecretValue", where, f"the secret has no string field {json_key}")
    return value


class RsaKeys:
    """The running RSA key of each service and the configured escrow copies, read once per run."""

    def __init__(self, aws: AwsAccess, installation: Installation, encryption: EncryptionSection,
                 hosts: list[str], redactor: Redactor) -> None:
        self._aws = aws
        self._installation = installation
        self._encryption = encryption
        self._hosts = hosts
        self._redactor = redactor
        self._inspections: dict[str, Any] = {}
        self._descriptions: dict[str, Any] = {}

    # -- where the key comes from ------------------------------------------------------------------

    def settings(self) -> dict[str, Setting | None]:
        """``ENCRYPTION_RSA_PRIVATE_KEY`` as each service (or the config) sets it."""
        found = self._installation.settings_per_service(RSA_SETTING)
        if not found:
            raise Unobservable("spacelift:setting", RSA_SETTING, "no service settings were found (see DR-SVC-01)")
        return found

    def running_secret(self) -> SecretReference | None:
        """The Secrets Manager secret the services take the key from, if they take it from one."""
        refs = {SecretReference.parse(s.secret_ref) for s in self.settings().values()
                if s is not None and s.secret_ref is not None}
        managed = sorted((r for r in refs if r.is_secrets_manager), key=lambda r: r.value_from)
        return managed[0] if managed else None

    # -- the running key ---------------------------------------------------------------------------

    def inspect(self, setting: Setting) -> RsaKeyInspection:
        """Inspect one service's key: a plain value directly, a secret reference only if allowed."""
        if setting.secret_ref is None:
            value = setting.value or ""
            remember_key(self._redactor, value)
            return inspect_rsa_key(value)
        reference = SecretReference.parse(setting.secret_ref)
        return remember(self._inspections, reference.value_from, lambda: inspect_rsa_key(
            self._read_secret(reference, purpose=f"{RSA_SETTING} comes from the secret")))

    def _read_secret(self, reference: SecretReference, purpose: str) -> str:
        where = reference.secret_id
        if where.startswith("kubernetes:secret/"):
            # On EKS: a Kubernetes Secret nothing syncs from AWS; the suite never keeps a secret's value there.
            secret = where.removeprefix("kubernetes:secret/").split("#", 1)[0]
            raise Unobservable("kubernetes:get secrets", secret,
                               f"{RSA_SETTING} comes from the Kubernetes Secret {secret}, whose value the suite "
                               f"never keeps; "
                               f"sync it from a Secrets Manager secret (External Secrets, Secrets Store CSI) "
                               f"to have it checked")
        if not reference.is_secrets_manager:
            raise Unobservable("ssm:GetParameter", where,
                               f"{purpose} {where}, which is not a Secrets Manager secret: the suite reads "
                               f"only Secrets Manager secrets")
        if not self._encryption.allow_reading_rsa_secret:
            error = Unobservable("secretsmanager:GetSecretValue", where, "not read")
            error.args = (f"{purpose} {where}, whose value the suite reads only when the config sets "
                          f"{_ALLOW_KEY}: true (it then needs secretsmanager:GetSecretValue on it)",)
            raise error
        params: dict[str, Any] = {"SecretId": where}
        if reference.version_id:
            params["VersionId"] = reference.version_id
        elif reference.version_stage:
            params["VersionStage"] = reference.version_stage
        response = self._aws.call("secretsmanager", reference.region or self._installation.primary_region,
                                  "GetSecretValue", resource=where, **params)
        assert response is not None
        secret_string = response.get("SecretString")
        if not isinstance(secret_string, str):
            raise Unobservable("secretsmanager:GetSecretValue", where, "the secret holds no SecretString")
        self._redactor.add(secret_string)
        value = _key_in_secret(secret_string, reference.json_key, where)
        remember_key(self._redactor, value)
        return value

    def running_keys(self) -> dict[str, RsaKeyInspection | None]:
        """Each service's key inspection; None where the setting is not set at all."""
        return {role: (self.inspect(setting) if setting is not None else None)
                for role, setting in self.settings().items()}

    # -- escrow ------------------------------------------------------------------------------------

    def describe_secret(self, secret_id: str) -> SecretDescription | None:
        def describe() -> SecretDescription | None:
            region = arn_region(secret_id) or self._installation.primary_region
            response = self._aws.call("secretsmanager", region, "DescribeSecret", resource=secret_id,
                                      absent=("ResourceNotFoundException",), SecretId=secret_id)
            return None if response is None else SecretDescription.from_api(response)

        return remember(self._descriptions, secret_id, describe)

    def escrow_copies(self) -> list[EscrowCopy]:
        """Every escrow copy to check: the configured secret and host files; with no secret configured,
        the Secrets Manager secret the services take the key from is itself the copy to check."""
        escrow = self._encryption.rsa_escrow
        copies: list[EscrowCopy] = []
        running = self.running_secret()
        secret_id = escrow.secret_id or (running.secret_id if running else None)
        if secret_id:
            copies.append(self._escrow_secret(secret_id, running, configured=escrow.secret_id is not None))
        if escrow.host_path:
            if not self._hosts:
                raise Unobservable("testinfra:file", escrow.host_path,
                                   "encryption.rsa_escrow.host_path is set but the config lists no hosts: "
                                   "add the escrow hosts under hosts:")
            copies.extend(read_escrow_file(spec, escrow.host_path, self._redactor) for spec in self._hosts)
        return copies

    def _escrow_secret(self, secret_id: str, running: SecretReference | None, configured: bool) -> EscrowCopy:
        backup = self._installation.backup_region
        described = self.describe_secret(secret_id)
        origin = {"source": "encryption.rsa_escrow.secret_id" if configured else
                  f"the secret {RSA_SETTING} comes from (no escrow secret configured)"}
        if described is None or described.deleted:
            state = "does not exist" if described is None else "is scheduled for deletion"
            return EscrowCopy("secret", secret_id, f"escrow secret {secret_id} {state}", None,
                              observed={**origin, "secret": described.summary() if described else None})
        observed: dict[str, Any] = {**origin, "secret": described.summary()}
        problem = None
        if arn_region(described.arn) == backup:
            # Created in the backup region: it is itself the copy there, whatever happens to the primary.
            observed["created_in_backup_region"] = True
        elif not described.in_sync_in(backup):
            problem = (f"escrow secret {described.name} is not replicated to {backup} "
                       f"(replica status: {described.replica_status(backup) or 'no replica'}, expected InSync)")
        running_described = self.describe_secret(running.secret_id) if running else None
        if running_described is not None and running_described.arn == described.arn:
            # The services read the key from this very secret: it is the same key without reading it.
            return EscrowCopy("secret", described.arn, problem, None, same_secret_as_running=True, observed=observed)
        value = self._read_secret(SecretReference.parse(described.arn), purpose="the escrow copy is the secret")
        return EscrowCopy("secret", described.arn, problem, inspect_rsa_key(value), observed=observed)


def read_escrow_file(spec: str, path: str, redactor: Redactor) -> EscrowCopy:
    """The escrow file on one host, through testinfra. An unreachable host or an unreadable file is
    unobservable (testinfra's ``exists`` alone would read a dead connection as 'no file')."""
    import testinfra

    location = f"{spec}{path}" if spec.endswith("//") else f"{spec}:{path}"
    try:
        host = testinfra.get_host(spec)
        reached = host.run("true")
    except Exception as error:
        raise Unobservable("testinfra:connect", spec, f"{type(error).__name__}: {error}") from None
    if reached.rc != 0:
        raise Unobservable("testinfra:connect", spec, f"a trivial command exited {reached.rc}")
    try:
        file = host.file(path)
        if not file.exists:
            return EscrowCopy("file", location, f"no escrow file {path} on {spec}", None)
        mode = int(file.mode)
        owner = str(file.user)
        content = file.content_string
    except Exception as error:
        # testinfra reports a failing command as an AssertionError: never let it pass for a FAIL.
        raise Unobservable("testinfra:file", location, f"cannot read the escrow file ({type(error).__name__})") \
            from None
    remember_key(redactor, content)
    problem = None
    if mode & 0o177:
        problem = f"{path} on {spec} has mode {mode:04o}, expected 0600 or stricter (readable only by its owner)"
    return EscrowCopy("file", location, problem, inspect_rsa_key(content),
                      observed={"mode": f"{mode:04o}", "owner": owner})

