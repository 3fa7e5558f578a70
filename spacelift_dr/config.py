"""The configuration file: its model, its defaults and the one clear message for bad input.

The YAML format is documented in the README. Unknown keys are errors, paths are relative to the
config file, and the DSN and API key are never in the file: only the names of the environment
variables that hold them.
"""

from __future__ import annotations

import difflib
import functools
import re
import reprlib
from pathlib import Path
from typing import Annotated, Any

import botocore
import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator
from pydantic.functional_validators import AfterValidator

from .errors import ConfigError
from .settings import unknown_setting

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$")
_PRINCIPAL = re.compile(r"^(arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[\w+=,.@/-]+|[0-9]{12})$")

DEFAULT_CRITICAL_BUCKETS = ("modules", "policy_inputs", "run_logs", "states")


@functools.cache
def known_regions() -> dict[str, str]:
    """Every region of botocore's endpoint data → its partition (aws, aws-cn, aws-us-gov, …)."""
    from .aws import data_loader  # the run's own loader: endpoints.json is read once per run

    data = data_loader().load_data("endpoints")
    return {region: partition["partition"] for partition in data["partitions"] for region in partition["regions"]}


def _region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError("an AWS region name such as eu-west-1")
    regions = known_regions()
    if value not in regions:
        close = difflib.get_close_matches(value, sorted(regions), n=1, cutoff=0.7)
        hint = f"did you mean {close[0]}?" if close else "is it new? then upgrade botocore"
        raise ValueError(f"a region AWS knows (botocore {botocore.__version__}'s endpoint data; {hint})")
    return value


def _account(value: str) -> str:
    if not _ACCOUNT.match(value):
        raise ValueError("a 12-digit AWS account id in quotes, such as \"123456789012\"")
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError("the NAME of an environment variable (letters, digits, _), not its value")
    return value


def _role_arn(value: str) -> str:
    if not _IAM_ROLE_ARN.match(value):
        raise ValueError("an IAM role ARN such as arn:aws:iam::123456789012:role/deploy")
    return value


def _principal(value: str) -> str:
    if not _PRINCIPAL.match(value):
        raise ValueError("an IAM principal ARN or a 12-digit account id")
    return value


def _endpoint(value: str) -> str:
    from .spacelift_api import endpoint_problem

    if not re.match(r"^https?://[^/\s]+(/[^\s]*)?$", value) or endpoint_problem(value):
        raise ValueError("the Spacelift account URL over HTTPS, such as https://acme.app.spacelift.io "
                         "(plain http:// only to a loopback address)")
    return value


def _bucket_kind(value: str) -> str:
    if not re.match(r"^[a-z][a-z0-9_]*$", value):
        raise ValueError("a bucket kind such as states or policy_inputs (OBJECT_STORAGE_BUCKET_<KIND>)")
    return value


Region = Annotated[StrictStr, AfterValidator(_region)]
AccountId = Annotated[StrictStr, AfterValidator(_account)]
EnvName = Annotated[StrictStr, AfterValidator(_env_name)]
RoleArn = Annotated[StrictStr, AfterValidator(_role_arn)]
Principal = Annotated[StrictStr, AfterValidator(_principal)]
BucketKind = Annotated[StrictStr, AfterValidator(_bucket_kind)]
Endpoint = Annotated[StrictStr, AfterValidator(_endpoint)]
def _host_spec(value: str) -> str:
    from .facts.hosts import HOST_SPEC_EXPECTED, host_spec_problem

    if host_spec_problem(value):
        raise ValueError(HOST_SPEC_EXPECTED)
    return value


# The files a run writes beside the installations' folders: no installation may be named like one.
OUTPUT_NAMES = frozenset({"dr-report.html", "dr-results.json", "dr-junit.xml", "dr-installations.json",
                          "sha256sums"})


def _not_an_output_name(value: str) -> str:
    if value.lower() in OUTPUT_NAMES:
        raise ValueError(f"a name that is not one of the run's output files ({', '.join(sorted(OUTPUT_NAMES))})")
    return value


HostSpec = Annotated[StrictStr, AfterValidator(_host_spec)]
Threshold = Annotated[StrictInt, Field(ge=0, le=10_000_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceNames(_Strict):
    server: StrictStr = "server"
    drain: StrictStr = "drain"
    scheduler: StrictStr = "scheduler"


_K8S_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
K8sName = Annotated[StrictStr, Field(min_length=1, max_length=253, pattern=_K8S_NAME)]


class DeploymentNames(_Strict):
    """The Deployments of the official Helm chart (``spacelift-self-hosted``), as the EKS module installs it."""

    server: K8sName = "spacelift-server"
    drain: K8sName = "spacelift-drain"
    # null: no scheduler Deployment (from Spacelift v6.4.0 the chart leaves it out: the drain schedules)
    scheduler: K8sName | None = "spacelift-scheduler"


class KubernetesDiscover(_Strict):
    """Where the services run on Kubernetes: the namespace and Deployment names, and, for a cluster not
    reached through ``eks_cluster``, the kubeconfig file and context (default: the standard kubeconfig)."""

    namespace: K8sName = "spacelift"
    deployments: DeploymentNames = DeploymentNames()
    kubeconfig: StrictStr | None = None
    context: StrictStr | None = None


class Discover(_Strict):
    ecs_cluster: StrictStr | None = None
    services: ServiceNames = ServiceNames()
    # EKS: the cluster's name; eks:DescribeCluster gives endpoint and CA, the token is presigned locally.
    eks_cluster: Annotated[StrictStr, Field(min_length=1, max_length=100, pattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]*$")] \
        | None = None
    kubernetes: KubernetesDiscover | None = None

    @model_validator(mode="after")
    def _one_platform(self) -> Discover:
        if self.ecs_cluster is not None and (self.eks_cluster is not None or self.kubernetes is not None):
            raise ValueError("eks_cluster: expected either ecs_cluster or eks_cluster/kubernetes, not both")
        if self.eks_cluster is not None and self.kubernetes is not None and (
                self.kubernetes.kubeconfig is not None or self.kubernetes.context is not None):
            raise ValueError("kubernetes.kubeconfig: expected either eks_cluster (the suite reaches the cluster "
                             "with AWS credentials) or kubernetes.kubeconfig/context, not both")
        return self

    @property
    def on_kubernetes(self) -> bool:
        return self.eks_cluster is not None or self.kubernetes is not None

    @property
    def cluster(self) -> KubernetesDiscover:
        """The Kubernetes side (defaults when only ``eks_cluster`` is given)."""
        return self.kubernetes or KubernetesDiscover()


class InstallationSection(_Strict):
    name: Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
                    AfterValidator(_not_an_output_name)]
    primary_region: Region
    backup_region: Region
    account_id: AccountId | None = None
    # A named profile of the AWS shared config (credentials or a role to assume): one per account.
    aws_profile: Annotated[StrictStr, Field(min_length=1, pattern=r"^[\w+=,.@/-]+$")] | None = None
    discover: Discover = Discover()
    settings: dict[Annotated[StrictStr, Field(pattern=r"^[A-Z][A-Z0-9_]*$")], StrictStr] = {}
    critical_buckets: Annotated[list[BucketKind], Field(min_length=1)] = list(DEFAULT_CRITICAL_BUCKETS)

    @model_validator(mode="after")
    def _regions_differ(self) -> InstallationSection:
        if self.primary_region == self.backup_region:
            raise ValueError("backup_region: expected a region other than primary_region")
        partitions = known_regions()
        if partitions[self.primary_region] != partitions[self.backup_region]:
            raise ValueError(f"backup_region: expected a region of primary_region's partition "
                             f"({partitions[self.primary_region]}), not of {partitions[self.backup_region]}")
        for name in self.settings:
            problem = unknown_setting(name, tuple(self.critical_buckets))
            if problem:
                raise ValueError(f"settings.{name}: expected {problem}")
        if self.discover.ecs_cluster is None and not self.discover.on_kubernetes and not self.settings:
            raise ValueError(
                "discover.ecs_cluster: expected the ECS cluster (or discover.eks_cluster, or discover.kubernetes) "
                "to discover settings from, or explicit installation.settings"
            )
        return self


class DatabaseSection(_Strict):
    cluster_identifier: StrictStr | None = None
    self_managed: bool = False  # not RDS/Aurora: DR-DB-01 … 05 N/A, DR-DB-08 applies
    dsn_env: EnvName = "SPACELIFT_DR_DATABASE_URL"
    replica_dsn_env: EnvName = "SPACELIFT_DR_REPLICA_DATABASE_URL"


class RsaEscrow(_Strict):
    secret_id: StrictStr | None = None
    # An absolute path: it reaches `stat` and `cat` on the hosts, where a leading '-' would be an option.
    host_path: Annotated[StrictStr, Field(pattern=r"^/[^\x00\n\r]*$", max_length=4096)] | None = None


class EncryptionSection(_Strict):
    rsa_escrow: RsaEscrow = RsaEscrow()
    # Reading the running key's secret needs secretsmanager:GetSecretValue on it: off unless asked.
    allow_reading_rsa_secret: bool = False


class SpaceliftApi(_Strict):
    endpoint: Endpoint | None = None
    key_id_env: EnvName = "SPACELIFT_API_KEY_ID"
    key_secret_env: EnvName = "SPACELIFT_API_KEY_SECRET"


ProfileName = Annotated[StrictStr, Field(min_length=1, pattern=r"^[\w+=,.@/-]+$")]


class ContinuitySection(_Strict):
    terraform_dirs: list[StrictStr] = []
    state_buckets: list[StrictStr] = []
    deployment_roles: list[RoleArn] = []
    break_glass_principals: list[Principal] = []
    break_glass_role: RoleArn | None = None
    spacelift_api: SpaceliftApi = SpaceliftApi()
    # Account id → the AWS profile that reads the deployment roles in that account (DR-CON-05, DR-CON-06).
    accounts: dict[AccountId, ProfileName] = {}


class Policy(_Strict):
    backup_retention_days_min: Threshold = 7
    pitr_max_lag_minutes: Threshold = 15
    snapshot_copy_max_age_hours: Threshold = 24
    replica_max_lag_seconds: Threshold = 300
    wal_archive_max_age_minutes: Threshold = 15
    dns_max_ttl_seconds: Threshold = 300
    certificate_min_days_valid: Threshold = 30
    postgres_major_supported: Annotated[list[StrictInt], Field(min_length=2, max_length=2)] = [14, 17]
    rsa_min_bits: Threshold = 2048
    rpo_target_minutes: Threshold = 60
    replication_max_latency_seconds: Threshold = 900

    @model_validator(mode="after")
    def _major_range(self) -> Policy:
        low, high = self.postgres_major_supported
        if low > high:
            raise ValueError("postgres_major_supported: expected [lowest, highest] with lowest <= highest")
        return self


class Config(_Strict):
    installation: InstallationSection
    database: DatabaseSection = DatabaseSection()
    encryption: EncryptionSection = EncryptionSection()
    continuity: ContinuitySection = ContinuitySection()
    hosts: list[HostSpec] = []
    policy: Policy = Policy()
    waivers: StrictStr | None = None

    # Where the file was read from: relative paths in it are relative to its folder.
    source: str = Field(default="<config>", exclude=True)

    def resolve(self, path: str) -> Path:
        base = Path(self.source).parent if self.source != "<config>" else Path.cwd()
        return (base / path).resolve()


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 2, 4, 4, 60, 60
_SHORT.maxlong = 40


def _describe(value: Any) -> str:
    # Bounded whatever the value: YAML aliases make a small file hold an exponentially large value.
    text = _SHORT.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expectation(error: Any) -> tuple[str, str | None]:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "no such key (unknown key; see the README's configuration reference)", None
    if kind == "missing":
        return "a value (required key is missing)", None
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    if kind.startswith("string_") or kind in {"int_type", "bool_type", "list_type", "dict_type", "model_type"}:
        message = message.replace("Input should be", "").strip()
    return message, _describe(error.get("input"))


MAX_MESSAGE_LINES = 10


def format_validation_error(source: str, error: ValidationError,
                            prefix: tuple[int | str, ...] = ()) -> ConfigError:
    """Turn pydantic's errors into one message: a line per problem, each naming key and expectation."""
    lines = []
    first: tuple[str, str, str | None] | None = None
    for item in error.errors():
        key = _location((*prefix, *item["loc"]))
        expected, got = _expectation(item)
        # Model-level validators already name their key at the start of the message.
        if item["type"] == "value_error" and ": expected " in expected and key.count(".") <= 1:
            inner_key, _, expected = expected.partition(": expected ")
            if inner_key and " " not in inner_key:
                key = f"{key}.{inner_key}" if key != "(top level)" else inner_key
                got = None
        lines.append(f"{key}: expected {expected}" + (f", got {got}" if got else ""))
        first = first or (key, expected, got)
    assert first is not None
    if len(lines) > MAX_MESSAGE_LINES:  # one message, not a page per hostile key
        lines = [*lines[:MAX_MESSAGE_LINES], f"… and {len(lines) - MAX_MESSAGE_LINES} more problems"]
    result = ConfigError(source, first[0], first[1], first[2])
    result.args = (f"{source}: " + ("\n  ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines)),)
    return result


def parse_config(data: Any, source: str) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(source, "(top level)", "a mapping with an 'installation:' section", _describe(data))
    try:
        return Config.model_validate({**data, "source": source})
    except ValidationError as error:
        raise format_validation_error(source, error) from None


# Input limits for config and waiver files: far above any real file, far below what hurts.
MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_YAML_DEPTH = 32
MAX_YAML_ALIASES = 64


_NO_TIMESTAMPS = {first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
                  for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class _TooComplex(yaml.YAMLError):
    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with bounded nesting and aliases, and no implicit timestamps: a date stays the
    text it was written as, so an impossible one (``2026-02-30``) is a message, not a crash."""


    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.yaml_implicit_resolvers = _NO_TIMESTAMPS
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _TooComplex(f"at most {MAX_YAML_ALIASES} aliases (*name)", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _TooComplex(f"at most {MAX_YAML_DEPTH} levels of nesting", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _nul_at(data: Any, where: str = "", seen: set[int] | None = None) -> str | None:
    """The key of the first string holding a NUL character (no path or name may hold one). Each container
    is visited once: aliases share them, and a walk through every path could take exponential time."""
    seen = set() if seen is None else seen
    if isinstance(data, str):
        return (where or "(top level)") if "\x00" in data else None
    if isinstance(data, dict | list):
        if id(data) in seen:
            return None
        seen.add(id(data))
    if isinstance(data, dict):
        for key, value in data.items():
            found = _nul_at(key, where, seen) or _nul_at(value, f"{where}.{key}" if where else str(key), seen)
            if found:
                return found
    if isinstance(data, list):
        for index, value in enumerate(data):
            found = _nul_at(value, f"{where}[{index}]", seen)
            if found:
                return found
    return None


def read_yaml(path: str | Path) -> Any:
    """A YAML file's data; an unreadable, oversized or invalid file is one ``ConfigError`` naming where."""
    source = str(path)
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise ConfigError(source, "(file)", f"a file of at most {MAX_YAML_BYTES // (1024 * 1024)} MB",
                              "a larger one")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise ConfigError(source, "(file)", "a readable UTF-8 YAML file", reason) from None
    try:
        data = yaml.load(text, Loader=BoundedLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ConfigError(source, where, "valid YAML", str(problem)) from None
    except (ValueError, OverflowError, RecursionError) as error:
        # A value YAML parses but Python refuses: an integer past Python's digit limit, an explicit
        # !!timestamp that is no date.
        raise ConfigError(source, "(file)", "values Python can hold (integers up to 4300 digits, real dates)",
                          str(error).split("\n")[0][:120]) from None
    nul = _nul_at(data)
    if nul:
        raise ConfigError(source, nul, "text without NUL characters")
    return data


def load_config(path: str | Path) -> Config:
    """Read and validate a config file. Any problem is one ``ConfigError`` naming file and key."""
    return _single(read_yaml(path), str(Path(path).resolve()))


def _single(data: Any, source: str) -> Config:
    if isinstance(data, dict) and "source" in data:
        raise ConfigError(source, "source", "no such key (unknown key; see the README's configuration reference)")
    return parse_config(data, source)


def _merged(defaults: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` over ``defaults``, section by section (a mapping merges, anything else replaces)."""
    out = dict(defaults)
    for key, value in entry.items():
        base = out.get(key)
        # The same mapping on both sides (a YAML alias) merges into itself: no walk (aliases nest).
        if isinstance(base, dict) and isinstance(value, dict) and base is not value:
            out[key] = _merged(base, value)
        else:
            out[key] = value
    return out


def _fleet_file(data: dict[str, Any], source: str) -> list[Config]:
    """A file listing installations: ``installations:`` (each a whole config) and optional ``defaults:``."""
    unknown = sorted(set(data) - {"installations", "defaults"})
    if unknown:
        raise ConfigError(source, unknown[0], "no such key beside installations: and defaults: (a file listing "
                          "installations keeps every other section inside each entry or in defaults:)")
    entries, defaults = data.get("installations"), data.get("defaults") or {}
    if not isinstance(entries, list) or not entries:
        raise ConfigError(source, "installations", "a non-empty list of installation configs", _describe(entries))
    if not isinstance(defaults, dict):
        raise ConfigError(source, "defaults", "a mapping of config sections shared by every installation",
                          _describe(defaults))
    configs = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(source, f"installations[{index}]", "a mapping with an 'installation:' section",
                              _describe(entry))
        if "source" in entry:
            raise ConfigError(source, f"installations[{index}].source", "no such key (unknown key)")
        try:
            configs.append(Config.model_validate({**_merged(defaults, entry), "source": source}))
        except ValidationError as error:
            raise format_validation_error(source, error, prefix=("installations", index)) from None
    return configs


def load_configs(path: str | Path) -> list[Config]:
    """One or more installations: a config file, a file listing ``installations:``, or a folder of such
    files (``*.yaml`` and ``*.yml``, in name order). Installation names must be unique across all."""
    given = Path(path)
    if given.is_dir():
        files = sorted(p for p in given.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
        if not files:
            raise ConfigError(str(path), "(folder)", "a folder holding one or more *.yaml config files", "none")
    else:
        files = [given]
    configs: list[Config] = []
    seen: dict[str, str] = {}
    for file in files:
        data = read_yaml(file)
        source = str(file.resolve())
        found = (_fleet_file(data, source) if isinstance(data, dict) and "installations" in data
                 else [_single(data, source)])
        for config in found:
            name = config.installation.name
            if name in seen:
                raise ConfigError(source, "installation.name", f"a name no other installation has ({name!r} is "
                                  f"also in {seen[name]})", repr(name))
            seen[name] = source
            configs.append(config)
    return configs
