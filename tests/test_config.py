"""The config file: a valid one loads; every malformed one ends in one clear message naming file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.config import load_config
from spacelift_dr.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

VALID: dict[str, Any] = {
    "installation": {
        "name": "prod",
        "primary_region": "eu-west-1",
        "backup_region": "eu-central-1",
        "account_id": "123456789012",
        "discover": {"ecs_cluster": "spacelift-ab12c"},
    },
    "policy": {"backup_retention_days_min": 14},
    "continuity": {"terraform_dirs": ["infra"]},
}


def write(tmp_path: Path, data: Any, name: str = "prod.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def test_valid_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID))
    assert config.installation.backup_region == "eu-central-1"
    assert config.installation.critical_buckets == ["modules", "policy_inputs", "run_logs", "states"]
    assert config.policy.backup_retention_days_min == 14
    assert config.policy.pitr_max_lag_minutes == 15
    assert config.database.dsn_env == "SPACELIFT_DR_DATABASE_URL"
    assert config.resolve(config.continuity.terraform_dirs[0]) == (tmp_path / "infra").resolve()


def _with(path: str, value: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(VALID))
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    if value is _DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return data


_DELETE = object()

MALFORMED = [
    # (what, data, key named in the message, words of the expectation)
    ("unknown top-level key", _with("colour", "blue"), "colour", "no such key"),
    ("unknown nested key", _with("installation.discover.cluster", "x"), "installation.discover.cluster",
     "no such key"),
    ("wrong type", _with("installation.primary_region", 5), "installation.primary_region", "valid string"),
    ("bad region", _with("installation.backup_region", "eu-west"), "installation.backup_region", "AWS region"),
    ("missing region", _with("installation.primary_region", _DELETE), "installation.primary_region",
     "required key is missing"),
    ("same regions", _with("installation.backup_region", "eu-west-1"), "installation.backup_region",
     "other than primary_region"),
    ("unquoted account id", _with("installation.account_id", 123456789012), "installation.account_id", "string"),
    ("a DSN instead of an env var name", _with("database.dsn_env", "postgres://u:p@h/db"), "database.dsn_env",
     "NAME of an environment variable"),
    ("negative threshold", _with("policy.replica_max_lag_seconds", -1), "policy.replica_max_lag_seconds",
     "greater than or equal to 0"),
    ("threshold of wrong type", _with("policy.rsa_min_bits", "2048"), "policy.rsa_min_bits", "integer"),
    ("bad role ARN", _with("continuity.deployment_roles", ["deployer"]), "continuity.deployment_roles[0]",
     "IAM role ARN"),
    ("no installation", {"policy": {}}, "installation", "required key is missing"),
    ("not a mapping", "- a\n- b\n", "(top level)", "a mapping"),
    ("invalid YAML", "installation: [unclosed\n", "line 2", "valid YAML"),
]


@pytest.mark.parametrize(("what", "data", "key", "expectation"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_config_names_file_key_and_expectation(tmp_path: Path, what: str, data: Any, key: str,
                                                         expectation: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert str(path) in message
    assert key in message
    assert expectation in message


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing.yaml: \(file\): expected a readable UTF-8 YAML file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="expected a readable UTF-8 YAML file"):
        load_config(tmp_path)  # a directory


def test_bad_config_is_a_usage_error_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, _with("installation.backup_region", "eu-west-1"))
    done = subprocess.run([sys.executable, "-m", "pytest", f"--dr-config={path}", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4
    output = done.stdout + done.stderr
    assert f"ERROR: {path}: installation.backup_region: expected a region other than primary_region" in output
    assert "Traceback" not in output


# Values of every JSON-ish kind, odd Unicode and huge ones included.
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1F6FF), max_size=3)
    | st.just("x" * 10_000),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
_paths = st.sampled_from([
    "installation", "installation.name", "installation.primary_region", "installation.backup_region",
    "installation.account_id", "installation.discover", "installation.discover.ecs_cluster",
    "installation.settings", "installation.critical_buckets", "database", "database.dsn_env", "policy",
    "policy.dns_max_ttl_seconds", "policy.postgres_major_supported", "continuity.deployment_roles",
    "continuity.break_glass_role", "hosts", "waivers", "unknown", "installation.extra",
])


@given(path=_paths, value=_values)
def test_any_malformation_is_a_config_error_never_a_crash(tmp_path_factory: pytest.TempPathFactory,
                                                          path: str, value: Any) -> None:
    config_file = write(tmp_path_factory.mktemp("cfg"), _with(path, value))
    message = ""
    try:
        load_config(config_file)
    except ConfigError as error:  # any other exception fails the test: that is the point
        message = str(error)
    if message:
        assert str(config_file) in message
        assert "expected" in message
