"""Break-glass workstation facts through testinfra (``local://``, ``ssh://…``, ``docker://…``).

A host that cannot be reached is :class:`Unobservable` (ERROR), never "tool missing". A tool that is
absent is an observation (None); a tool that is there but whose version cannot be read is ERROR.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..aws import record_action, remember, remembered_property
from ..errors import Unobservable
from .terraform import Version

_VERSION_IN_TEXT = {
    "terraform": re.compile(r"Terraform v(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)"),
    "tofu": re.compile(r"OpenTofu v(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)"),
    "aws": re.compile(r"aws-cli/(\d+\.\d+\.\d+)"),
    "terragrunt": re.compile(r"terragrunt version v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)"),
}
_VERSION_COMMAND = {"terraform": "terraform version", "tofu": "tofu version", "aws": "aws --version",
                    "terragrunt": "terragrunt --version"}


def version_from_output(tool: str, output: str) -> Version | None:
    """The version a tool printed: ``terraform version -json`` or the text forms of each tool."""
    text = output.strip()
    if tool in ("terraform", "tofu") and text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        found = data.get("terraform_version") if isinstance(data, dict) else None
        if isinstance(found, str):
            try:
                return Version.parse(found)
            except ValueError:
                return None
    match = _VERSION_IN_TEXT[tool].search(text)
    return Version.parse(match.group(1)) if match else None


# The host specs the suite accepts, a strict subset of testinfra's: no query string (testinfra's
# ``ssh_extra_args``, ``ssh_config`` … would reach ssh's command line) and no part that could be read
# as a command-line option (nothing begins with ``-``).
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"(?:{_NAME}(?:\.{_NAME})*|\[[0-9A-Fa-f:.]+\])"
_USER = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_CONTAINER = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
HOST_SPEC = re.compile(
    rf"^(?:local://|(?:ssh|paramiko)://(?:{_USER}@)?{_HOST}(?::{_PORT})?|(?:docker|podman)://{_CONTAINER}(?:@{_USER})?)$")
HOST_SPEC_EXPECTED = ("local://, ssh://[user@]host[:port], paramiko://[user@]host[:port] or "
                      "docker://container[@user] (no query string; no part may begin with '-')")


def host_spec_problem(spec: str) -> str | None:
    """Why ``spec`` is refused as a host spec, or None."""
    return None if HOST_SPEC.fullmatch(spec) else f"expected {HOST_SPEC_EXPECTED}"


class Workstation:
    """A host from the config, reached through testinfra; each command runs once per run."""

    def __init__(self, spec: str, host: Any = None) -> None:
        self.spec = spec
        self._host = host
        self._versions: dict[str, Any] = {}

    def _error(self, reason: str) -> Unobservable:
        return Unobservable("host:connect", self.spec, reason)

    @remembered_property
    def host(self) -> Any:
        if self._host is not None:
            return self._host
        import testinfra

        problem = host_spec_problem(self.spec)
        if problem:  # the config refuses it too; nothing reaches testinfra's command lines unchecked
            raise self._error(f"refused host spec: {problem}")
        try:
            return testinfra.get_host(self.spec)
        except Exception as error:  # a bad spec or a missing backend dependency
            raise self._error(f"{type(error).__name__}: {error}") from None

    @remembered_property
    def reachable(self) -> bool:
        """True, or Unobservable: a host that does not answer is never 'without tools'."""
        record_action("host:connect", self.spec)
        try:
            result = self.host.run("true")
        except Unobservable:
            raise
        except Exception as error:
            raise self._error(f"unreachable ({type(error).__name__}: {str(error)[:200]})") from None
        if result.rc != 0:
            raise self._error(f"a trivial command failed (exit {result.rc})")
        return True

    def tool_version(self, tool: str) -> Version | None:
        """The installed version of ``terraform``, ``tofu``, ``aws`` or ``terragrunt``; None when it is not
        installed."""
        return remember(self._versions, tool, lambda: self._read_version(tool))

    def _read_version(self, tool: str) -> Version | None:
        assert self.reachable
        record_action(f"host:{tool}", self.spec)
        try:
            if not self.host.exists(tool):
                return None
            result = self.host.run(_VERSION_COMMAND[tool])
        except Exception as error:
            raise Unobservable(f"host:{tool}", self.spec, f"{type(error).__name__}: {str(error)[:200]}") from None
        output = f"{result.stdout}\n{result.stderr}"
        version = version_from_output(tool, output)
        if version is None:
            raise Unobservable(f"host:{tool}", self.spec,
                               f"`{_VERSION_COMMAND[tool]}` (exit {result.rc}) printed no version: "
                               f"{output.strip()[:120]!r}")
        return version
