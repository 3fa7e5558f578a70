"""No config value reaches a command line as an option: host specs are a strict grammar (no query
string, nothing beginning with '-'), checked in the config and again before testinfra sees them;
``encryption.rsa_escrow.host_path`` is an absolute path (it reaches ``stat`` and ``cat``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.config import parse_config
from spacelift_dr.errors import ConfigError, Unobservable
from spacelift_dr.facts.hosts import Workstation, host_spec_problem

BASE = {"installation": {"name": "x", "primary_region": "eu-west-1", "backup_region": "eu-central-1",
                         "discover": {"ecs_cluster": "spacelift"}}}


def config_with(**sections: Any) -> dict[str, Any]:
    return {**BASE, **sections}


SOUND = ["local://", "ssh://dr@bastion.example.com", "ssh://bastion:2222", "ssh://ops@10.0.0.5:22",
         "ssh://[2001:db8::1]:22", "paramiko://ops@host", "docker://breakglass", "docker://breakglass@root",
         "podman://tools-1"]
HOSTILE = ["ssh://-oProxyCommand=touch${IFS}/tmp/pwned", "ssh://host?ssh_extra_args=-oProxyCommand=id",
           "ssh://host?ssh_config=/tmp/evil", "ssh://-lroot@host", "ssh://user@-host", "docker://-v/:/host",
           "ssh://host:-1", "ssh://host:70000", "ssh://user@host;id", "ssh://host id", "local://; id",
           "ansible://all?ansible_inventory=/tmp/x", "kubectl://pod?container=-c", "ssh://", "ssh://h\nid",
           "winrm://host", "ssh://user:password@host"]


@pytest.mark.parametrize("spec", SOUND)
def test_sound_host_specs_are_accepted(spec: str) -> None:
    assert parse_config(config_with(hosts=[spec]), "dr.yaml").hosts == [spec]


@pytest.mark.parametrize("spec", HOSTILE)
def test_hostile_host_specs_are_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError, match="hosts"):
        parse_config(config_with(hosts=[spec]), "dr.yaml")
    with pytest.raises(Unobservable, match="refused host spec"):
        _ = Workstation(spec).host  # and refused again before testinfra would run anything


@given(prefix=st.sampled_from(["ssh://", "paramiko://", "docker://", "podman://", "ssh://user@", "docker://c@"]),
       rest=st.text(max_size=20))
def test_no_accepted_spec_carries_an_option_or_a_query(prefix: str, rest: str) -> None:
    spec = prefix + rest
    if host_spec_problem(spec) is None:
        body = spec.split("://", 1)[1]
        assert not any(part.startswith("-") for part in body.replace("@", ":").split(":"))
        assert not any(ch in spec for ch in "?&;| \t\n$`'\"\\()<>")


@pytest.mark.parametrize("path", ["-n/etc/shadow", "relative/key.pem", "/ok\n-x", ""])
def test_the_escrow_host_path_is_absolute(path: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="host_path"):
        parse_config(config_with(encryption={"rsa_escrow": {"host_path": path}}), "dr.yaml")
    assert parse_config(config_with(encryption={"rsa_escrow": {"host_path": "/etc/spacelift/rsa.key"}}),
                        "dr.yaml").encryption.rsa_escrow.host_path == "/etc/spacelift/rsa.key"
