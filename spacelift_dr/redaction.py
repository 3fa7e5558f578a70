"""Secrets never leave: every value that goes into evidence, messages or reports passes through here.

Two nets: values of settings whose names mark them as secret (``PASSWORD``, ``SECRET``, ``TOKEN``,
``PRIVATE_KEY``, plus the names the catalogue lists) are replaced by ``***`` wherever they sit in a
structure, and every secret value the run has seen (settings, DSN passwords, API keys) is replaced by
``***`` wherever it appears inside any text, including the written report files.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|CREDENTIAL|DATABASE_URL|API_KEY",
                         re.IGNORECASE)
# user:password@ in any URL-like DSN (postgres://, postgresql://, mysql://, https://…)
_DSN_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]+)@")
_KEYWORD_PASSWORD = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)
# What each pattern cannot match without (a plain search, far cheaper than the pattern itself): "://user:pw@",
# and "password" followed by "=" in the case-folded text (IGNORECASE matches exactly what folds to it).
_DSN_HINT = re.compile(r"://[^:/@\s]*:[^@\s]+@")
_KEYWORD_HINT = re.compile(r"password\s*=")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


class Redactor:
    """Knows the run's secret values and removes them from anything about to be written."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember a secret value, with the encodings it could appear in."""
        if not secret or len(secret) < _MIN_SECRET_LENGTH:
            return
        variants = {secret, secret.strip()}
        try:
            variants.add(base64.b64encode(secret.encode()).decode())
            decoded = base64.b64decode(secret, validate=True).decode("utf-8")
            variants.add(decoded)
            variants.update(line for line in decoded.splitlines() if len(line) >= 16)
        except (ValueError, UnicodeDecodeError):
            pass
        # A DSN's password is a secret of its own, wherever it shows up.
        for match in _DSN_PASSWORD.finditer(secret):
            variants.add(match.group("pw"))
        with self._lock:
            self._secrets.update(v for v in variants if len(v) >= _MIN_SECRET_LENGTH)

    def add_setting(self, name: str, value: str | None) -> None:
        if value and is_secret_name(name):
            self.add(value)
        elif value:
            for match in _DSN_PASSWORD.finditer(value):
                self.add(match.group("pw"))

    @property
    def known(self) -> int:
        return len(self._secrets)

    @classmethod
    def merged(cls, redactors: Iterable[Redactor]) -> Redactor:
        """One redactor knowing every secret of these (one pass over a report of many installations)."""
        found = cls()
        for redactor in redactors:
            with redactor._lock:
                found._secrets.update(redactor._secrets)
        return found

    def text(self, value: str) -> str:
        # A pattern runs only where it can match: tried at every letter, the DSN and keyword patterns are slow.
        if "PRIVATE KEY-----" in value:
            value = _PEM.sub(MASK, value)
        if _DSN_HINT.search(value):
            value = _DSN_PASSWORD.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", value)
        if _KEYWORD_HINT.search(value.casefold()):
            value = _KEYWORD_PASSWORD.sub(lambda m: f"{m.group('key')}{MASK}", value)
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def value(self, value: Any, name: str | None = None) -> Any:
        """Redact a JSON-like structure: secret-named keys are masked whole, strings scrubbed."""
        if name is not None and is_secret_name(name) and isinstance(value, str | bytes) and value:
            return MASK
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            items = [self.value(v) for v in value]
            return sorted(items, key=str) if isinstance(value, set | frozenset) else items
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return MASK
        return value
