"""Break-glass workstation facts through testinfra's local backend, with fake ``terraform``, ``tofu`` and
``aws`` executables on a temporary PATH."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.hosts import Workstation, version_from_output
from spacelift_dr.facts.terraform import Version


def fake_tools(directory: Path, tools: dict[str, str]) -> Path:
    """Executables printing what the real tools print (``name`` → output)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, output in tools.items():
        path = directory / name
        # Only shell builtins: the temporary PATH holds nothing else.
        lines = "".join(f"echo '{line}'\n" for line in output.splitlines())
        path.write_text("#!/bin/sh\n" + lines, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


TERRAFORM_1_9 = "Terraform v1.9.5\non linux_amd64"
TOFU_1_8 = "OpenTofu v1.8.3\non linux_amd64"
AWS_2 = "aws-cli/2.17.20 Python/3.11.9 Linux/6.5.0 exe/x86_64.ubuntu.22"


@pytest.mark.parametrize(("tool", "output", "version"), [
    ("terraform", TERRAFORM_1_9, "1.9.5"),
    ("terraform", '{"terraform_version": "1.10.0-beta1", "platform": "linux_amd64"}', "1.10.0-beta1"),
    ("terraform", "Terraform v1.5.7\n\nYour version of Terraform is out of date!", "1.5.7"),
    ("tofu", TOFU_1_8, "1.8.3"),
    ("aws", AWS_2, "2.17.20"),
    ("aws", "aws-cli/1.32.0 Python/3.8.10 Linux/5.4.0 botocore/1.34.0", "1.32.0"),
])
def test_versions_in_tool_output(tool: str, output: str, version: str) -> None:
    assert version_from_output(tool, output) == Version.parse(version)


def test_no_version_in_output() -> None:
    assert version_from_output("terraform", "command not found") is None


def test_local_host_tools_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_tools(tmp_path / "bin", {"terraform": TERRAFORM_1_9, "aws": AWS_2})))
    host = Workstation("local://")
    assert host.reachable
    assert host.tool_version("terraform") == Version.parse("1.9.5")
    assert host.tool_version("aws") == Version.parse("2.17.20")
    assert host.tool_version("tofu") is None  # not installed: an observation


def test_a_tool_that_prints_no_version_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_tools(tmp_path / "bin", {"terraform": "segmentation fault"})))
    with pytest.raises(Unobservable, match="printed no version"):
        Workstation("local://").tool_version("terraform")


def test_an_unreachable_host_is_an_error_not_a_missing_tool() -> None:
    host = Workstation("ssh://dr-suite@127.0.0.1:1")
    with pytest.raises(Unobservable) as caught:
        host.tool_version("terraform")
    assert caught.value.action == "host:connect"
    assert "unreachable" in caught.value.reason
