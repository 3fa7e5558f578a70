"""Terraform code facts: root modules, their backends and ``required_version`` constraints.

The configured code directories are scanned with python-hcl2 (``.tf``, ``.tf.json``, Terragrunt's
``terragrunt.hcl`` / ``root.hcl``). Nothing is evaluated: only literal values count, so a backend
whose ``bucket`` is an expression or is given at ``terraform init`` (partial configuration) has no
bucket here and the bucket has to be listed in ``continuity.state_buckets``.

What counts as a root module (the unit that owns a state):

- a directory of ``.tf``/``.tf.json`` files that declares a ``backend`` or ``cloud`` block; or that
  declares a ``provider`` block or any ``resource``/``data``/``module`` block, unless another scanned
  directory calls it through a local ``source`` (``./…``, ``../…``) or it lies under a folder named
  ``modules``;
- a Terragrunt unit: a ``terragrunt.hcl`` with a ``terraform`` or ``include`` block; its backend is its
  own ``remote_state`` (or a ``generate`` block writing a backend) or, when it includes a parent, the
  nearest one above it.

``.terraform``, ``.terragrunt-cache`` and hidden folders are skipped.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..aws import record_action
from ..disk_cache import derived, library_version
from ..errors import Unobservable

# -- versions and constraints -----------------------------------------------------------------------

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_CONSTRAINT = re.compile(r"^\s*(~>|>=|<=|!=|=|>|<)?\s*(\S+)\s*$")


@dataclass(frozen=True)
class Version:
    """A Terraform/OpenTofu version (``1.9.5``, ``1.10.0-beta1``), ordered as semantic versions."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    segments: int = 3  # how many numeric parts were written: ``~> 1.2`` differs from ``~> 1.2.0``

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a version such as 1.9.5")
        major, minor, patch, pre = match.groups()
        segments = 1 + (minor is not None) + (patch is not None)
        return cls(int(major), int(minor or 0), int(patch or 0), pre or "", segments)

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def _key(self) -> tuple[Any, ...]:
        # A release sorts after its prereleases; prerelease parts compare numerically when numeric.
        if not self.prerelease:
            return (*self.core, 1, ())
        parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease.split("."))
        return (*self.core, 0, parts)

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Version) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Version) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Version) -> bool:
        return self._key() >= other._key()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return ".".join(map(str, self.core)) + (f"-{self.prerelease}" if self.prerelease else "")


@dataclass(frozen=True)
class Constraint:
    """One ``operator version`` term of a ``required_version`` string."""

    operator: str  # =, !=, >, >=, <, <=, ~>
    version: Version

    @classmethod
    def parse(cls, text: str) -> Constraint:
        match = _CONSTRAINT.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a version constraint such as '>= 1.5.0'")
        operator, version = match.groups()
        return cls(operator or "=", Version.parse(version))

    def allows(self, version: Version) -> bool:
        wanted = self.version
        # Terraform's rule: a prerelease only matches a constraint naming a prerelease of the same release.
        if version.prerelease and (not wanted.prerelease or version.core != wanted.core):
            return False
        if self.operator == "=":
            return version == wanted
        if self.operator == "!=":
            return version != wanted
        if self.operator == ">":
            return version > wanted
        if self.operator == ">=":
            return version >= wanted
        if self.operator == "<":
            return version < wanted
        if self.operator == "<=":
            return version <= wanted
        # ~>: only the right-most written segment may grow (~> 1.2 means >= 1.2, < 2.0).
        if version < wanted:
            return False
        if wanted.segments >= 3:
            return (version.major, version.minor) == (wanted.major, wanted.minor)
        return version.major == wanted.major

    def __str__(self) -> str:
        return f"{self.operator} {self.version}"


@dataclass(frozen=True)
class VersionRequirement:
    """A whole ``required_version`` value: comma-separated constraints that must all hold."""

    text: str
    constraints: tuple[Constraint, ...]
    source: str = ""  # the file it was found in

    @classmethod
    def parse(cls, text: str, source: str = "") -> VersionRequirement:
        parts = [p for p in text.split(",")]
        if not text.strip() or any(not p.strip() for p in parts):
            raise ValueError(f"{text!r} is not a version constraint list such as '>= 1.5, < 2.0'")
        return cls(text, tuple(Constraint.parse(p) for p in parts), source)

    def allows(self, version: Version) -> bool:
        return all(c.allows(version) for c in self.constraints)


# -- HCL values -------------------------------------------------------------------------------------


def literal(value: Any) -> Any:
    """A literal HCL value, or None for an expression.

    python-hcl2 8 keeps a string literal's quotes (``'"eu-west-1"'``) and writes expressions as
    ``${…}``; version 7 and ``.tf.json`` give plain strings. Interpolated strings are expressions.
    """
    if isinstance(value, bool | int | float):
        return value
    if not isinstance(value, str):
        return None
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        inner = value[1:-1]
        return None if "${" in inner else inner.replace('\\"', '"').replace("\\\\", "\\")
    if "${" in value:
        return None
    return value


def _label(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key.startswith('"') and key.endswith('"') else key


def _bodies(value: Any) -> list[dict[str, Any]]:
    """Unlabelled blocks: python-hcl2 gives a list of bodies; JSON a body or a list of them."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def _labelled(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """Labelled blocks (``backend "s3" {…}``) as (label, body) pairs, from HCL or JSON shapes."""
    found: list[tuple[str, dict[str, Any]]] = []
    for item in _bodies(value):
        for key, body in item.items():
            if key.startswith("__"):
                continue
            for inner in _bodies(body):
                found.append((_label(key), inner))
    return found


# -- parsing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParseFailure:
    """A file that could not be read or parsed: whatever depends on it is ERROR, not a verdict."""

    file: str
    line: int | None
    reason: str
    # False when the file parsed and only one value (a required_version) is unusable: no block is hidden.
    whole_file: bool = True

    def unobservable(self) -> Unobservable:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        error = Unobservable("terraform:parse", self.file, self.reason)
        error.args = (f"could not parse {where}: {self.reason}" if self.whole_file else f"{where}: {self.reason}",)
        return error


# Bounds on what one file may cost: python-hcl2 (lark) takes some 25 ms and 150 KB of memory per KB of
# input, far more on deep nesting, and Python refuses integers of more than 4300 digits. Real Terraform
# files are a few KB; a file past these bounds is not scanned, and what depends on it is ERROR.
MAX_FILE_BYTES = 256 * 1024
MAX_NESTING = 64
MAX_DIGITS = 1000
_LONG_NUMBER = re.compile(rf"[0-9]{{{MAX_DIGITS + 1}}}")


def _too_costly(text: str) -> str | None:
    """Why ``text`` is not handed to the parser (bounded time and memory), or None."""
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        return f"larger than {MAX_FILE_BYTES // 1024} KB: not scanned"
    if "\x00" in text:
        return "holds a NUL character: not scanned"
    if _LONG_NUMBER.search(text):
        return f"holds a number of more than {MAX_DIGITS} digits: not scanned"
    depth = deepest = 0
    for character in text:
        if character in "[{(":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]})":
            depth -= 1
    if deepest > MAX_NESTING:
        return f"nested more than {MAX_NESTING} levels deep: not scanned"
    return None


def parse_file(path: Path) -> dict[str, Any]:
    """The file as python-hcl2 (or json) reads it; raises :class:`TerraformParseError`."""
    record_action("file:read", str(path))
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise TerraformParseError(ParseFailure(str(path), None, f"unreadable ({type(error).__name__})")) from None
    costly = _too_costly(text)
    if costly:
        raise TerraformParseError(ParseFailure(str(path), None, costly))
    if path.name.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise TerraformParseError(ParseFailure(str(path), error.lineno, error.msg)) from None
        except (RecursionError, ValueError) as error:
            raise TerraformParseError(ParseFailure(str(path), None, type(error).__name__)) from None
        if not isinstance(data, dict):
            raise TerraformParseError(ParseFailure(str(path), 1, "expected a JSON object at the top level"))
        return data
    try:
        parsed = hcl2_loads(text)
    except Exception as error:  # lark raises many kinds; each carries line/column when it knows them
        line = getattr(error, "line", None)
        column = getattr(error, "column", None)
        # Name the kind of token, never its text: a malformed file may hold a secret next to the error.
        token = getattr(getattr(error, "token", None), "type", None)
        reason = (f"unexpected {token}" if token else type(error).__name__) + \
            (f" at column {column}" if isinstance(column, int) and column > 0 else "")
        raise TerraformParseError(ParseFailure(str(path), line if isinstance(line, int) and line > 0 else None,
                                               reason)) from None
    return parsed


class TerraformParseError(Exception):
    def __init__(self, failure: ParseFailure) -> None:
        self.failure = failure
        super().__init__(f"{failure.file}: {failure.reason}")


# -- backends and modules ---------------------------------------------------------------------------

BACKEND_SETTINGS = ("bucket", "region", "key", "workspace_key_prefix", "dynamodb_table", "use_lockfile", "address",
                    "organization")


@dataclass(frozen=True)
class Backend:
    """A declared backend: ``backend "s3" {…}``, a ``cloud`` block, or Terragrunt's ``remote_state``."""

    type: str
    settings: tuple[tuple[str, Any], ...]
    declared_in: str

    @classmethod
    def from_body(cls, backend_type: str, body: dict[str, Any], declared_in: str) -> Backend:
        settings = tuple((k, literal(body[k])) for k in BACKEND_SETTINGS if k in body)
        return cls(backend_type, settings, declared_in)

    def setting(self, name: str) -> Any:
        return dict(self.settings).get(name)

    @property
    def is_local(self) -> bool:
        return self.type == "local"

    @property
    def is_spacelift_managed(self) -> bool:
        """Spacelift's own state backend: an ``http`` backend whose address is a Spacelift host."""
        address = str(self.setting("address") or "")
        return self.type == "http" and "spacelift" in address.lower()

    @property
    def keeps_state_outside_spacelift(self) -> bool:
        return not self.is_local and not self.is_spacelift_managed

    @property
    def bucket(self) -> str | None:
        value = self.setting("bucket") if self.type == "s3" else None
        return value if isinstance(value, str) and value else None

    @property
    def state_keys(self) -> tuple[str, ...] | None:
        """What a ``backend "s3"`` writes under: its ``key`` (and its lock file beside it) and the
        non-default workspaces' ``<workspace_key_prefix>/`` (``env:`` unless set); None when ``key`` is
        not a literal (given at init)."""
        key = self.setting("key")
        prefix = self.setting("workspace_key_prefix")
        if not isinstance(key, str) or not key or (prefix is not None and not isinstance(prefix, str)):
            return None
        return (key, f"{prefix or 'env:'}/")

    def summary(self) -> dict[str, Any]:
        return {"type": self.type, **{k: v for k, v in self.settings if v is not None},
                "declared_in": self.declared_in}


@dataclass
class Directory:
    """What one scanned directory declares (all its Terraform files together)."""

    path: Path
    files: list[str] = field(default_factory=list)
    backends: list[Backend] = field(default_factory=list)
    has_provider: bool = False
    has_configuration: bool = False  # resource, data or module blocks
    local_calls: list[Path] = field(default_factory=list)
    required_versions: list[VersionRequirement] = field(default_factory=list)
    failures: list[ParseFailure] = field(default_factory=list)
    # Terragrunt
    terragrunt_unit: bool = False
    terragrunt_includes: bool = False
    remote_state: Backend | None = None


@dataclass(frozen=True)
class RootModule:
    """A root module (or Terragrunt unit): the thing that owns a state."""

    name: str  # the configured directory as written, plus the path inside it
    path: str
    files: tuple[str, ...]
    backends: tuple[Backend, ...]
    failures: tuple[ParseFailure, ...]
    terragrunt: bool = False

    @property
    def backend(self) -> Backend | None:
        return self.backends[0] if len(self.backends) == 1 else None

    @property
    def unparsed(self) -> list[ParseFailure]:
        """Files of this module that could not be parsed at all (they may hide its backend)."""
        return [f for f in self.failures if f.whole_file]

    def summary(self) -> dict[str, Any]:
        return {"path": self.path, "files": list(self.files), "terragrunt": self.terragrunt,
                "backends": [b.summary() for b in self.backends]}


@dataclass(frozen=True)
class StateBucketSource:
    """Where a state bucket was named: a root module's backend, or the config."""

    module: str
    region: str | None
    # The object keys (or key prefixes) its states use: ``key``, and ``<workspace_key_prefix>/`` for the
    # other workspaces. None: not known (a partial configuration, or a bucket named in the config).
    keys: tuple[str, ...] | None = None


@dataclass
class CodeScan:
    """Everything found under the configured code directories."""

    modules: list[RootModule] = field(default_factory=list)
    failures: list[ParseFailure] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # configured directories that do not exist
    required_versions: list[VersionRequirement] = field(default_factory=list)
    invalid_versions: list[ParseFailure] = field(default_factory=list)

    def state_buckets(self) -> dict[str, list[StateBucketSource]]:
        """Buckets named by literal ``backend "s3"`` blocks, with the modules that name them."""
        found: dict[str, list[StateBucketSource]] = {}
        for module in self.modules:
            for backend in module.backends:
                if backend.bucket:
                    region = backend.setting("region")
                    found.setdefault(backend.bucket, []).append(
                        StateBucketSource(module.name, region if isinstance(region, str) else None,
                                          backend.state_keys))
        return found

    def partial_s3_backends(self) -> list[RootModule]:
        """Root modules with an s3 backend whose bucket is not a literal (given at init, or an expression)."""
        return [m for m in self.modules if any(b.type == "s3" and not b.bucket for b in m.backends)]


_SKIPPED = {".terraform", ".terragrunt-cache", "node_modules"}


def _terraform_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and (p.name.endswith(".tf") or p.name.endswith(".tf.json")))


def _read_terraform(directory: Directory, path: Path) -> None:
    try:
        data = parse_file(path)
    except TerraformParseError as error:
        directory.failures.append(error.failure)
        return
    directory.files.append(path.name)
    override = path.name.removesuffix(".json").removesuffix(".tf").endswith("override")
    for block in _bodies(data.get("terraform", [])):
        declared: list[Backend] = [Backend.from_body(kind, body, str(path))
                                   for kind, body in _labelled(block.get("backend", []))]
        declared += [Backend.from_body("cloud", body, str(path)) for body in _bodies(block.get("cloud", []))]
        if declared and override:
            directory.backends = declared  # an override file replaces the backend
        else:
            directory.backends.extend(declared)
        if "required_version" in block:
            text = literal(block["required_version"])
            if isinstance(text, str):
                try:
                    directory.required_versions.append(VersionRequirement.parse(text, str(path)))
                except ValueError as error:
                    directory.failures.append(ParseFailure(str(path), None, f"required_version: {error}",
                                                           whole_file=False))
    if data.get("provider"):
        directory.has_provider = True
    if any(data.get(kind) for kind in ("resource", "data", "module")):
        directory.has_configuration = True
    for _, body in _labelled(data.get("module", [])):
        source = literal(body.get("source"))
        if isinstance(source, str) and source.startswith(("./", "../")):
            directory.local_calls.append((directory.path / source).resolve())


def _read_terragrunt(directory: Directory, path: Path) -> None:
    try:
        data = parse_file(path)
    except TerraformParseError as error:
        directory.failures.append(error.failure)
        return
    directory.files.append(path.name)
    for body in _bodies(data.get("remote_state", [])):
        backend_type = literal(body.get("backend"))
        raw_config = body.get("config")
        config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
        directory.remote_state = Backend.from_body(str(backend_type or "unknown"), config, str(path))
    if directory.remote_state is None:
        # The other common way: a `generate` block writing a backend block into the unit.
        for _, body in _labelled(data.get("generate", [])):
            code = _heredoc(body.get("contents"))
            if code is None or "backend" not in code:
                continue
            try:
                generated = hcl2_loads(code)
            except Exception:
                directory.failures.append(ParseFailure(str(path), None, "a generate block's contents do not parse"))
                continue
            for block in _bodies(generated.get("terraform", [])):
                for kind, backend in _labelled(block.get("backend", [])):
                    directory.remote_state = Backend.from_body(kind, backend, str(path))
    if path.name == "terragrunt.hcl":
        directory.terragrunt_unit = bool(data.get("terraform")) or bool(data.get("include"))
        directory.terragrunt_includes = bool(data.get("include"))


_HEREDOC = re.compile(r"^<<-?([A-Za-z_][A-Za-z0-9_]*)\r?\n(.*?)\r?\n\s*\1\s*$", re.DOTALL)


def _heredoc(value: Any) -> str | None:
    """The text of a heredoc attribute (python-hcl2 8 wraps it in quotes, 7 does not)."""
    if not isinstance(value, str):
        return None
    text = value[1:-1] if len(value) >= 2 and value.startswith('"') and value.endswith('"') else value
    match = _HEREDOC.match(text.strip())
    return match.group(2) if match else None


def hcl2_loads(text: str) -> dict[str, Any]:
    """python-hcl2's reading of ``text``, kept between runs (spacelift_dr.disk_cache) by the parser's
    version and the exact text."""

    def parse() -> dict[str, Any]:
        import hcl2

        return dict(hcl2.loads(text))

    data: dict[str, Any] = derived("terraform", f"python-hcl2 {library_version('python-hcl2')}\0{text}", parse,
                                   lambda found: isinstance(found, dict))
    return data


def _read_safely(read: Any, directory: Directory, path: Path) -> None:
    """One file's trouble stays that file's: whatever it raises is a parse failure (ERROR on what depends
    on it), never the end of the scan (and of the run's collection)."""
    try:
        read(directory, path)
    except (ValueError, RuntimeError, RecursionError, OSError, TypeError, AttributeError) as error:
        directory.failures.append(ParseFailure(str(path), None, f"not understood ({type(error).__name__})"))


def _under_modules_folder(path: Path, base: Path) -> bool:
    try:
        parts = path.relative_to(base).parts
    except ValueError:
        return False
    return "modules" in parts


def scan(directories: list[tuple[str, Path]]) -> CodeScan:
    """Scan each configured directory (as written, resolved path) for root modules."""
    result = CodeScan()
    seen: dict[Path, tuple[str, Path, Directory]] = {}
    for label, base in directories:
        if not base.is_dir():
            result.missing.append(label)
            continue
        for current, subdirs, _ in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED and not d.startswith("."))
            path = Path(current).resolve()
            if path in seen:
                continue
            directory = Directory(path)
            try:
                files = _terraform_files(path)
            except OSError as error:
                directory.failures.append(ParseFailure(str(path), None, f"unreadable folder ({error.strerror})"))
                files = []
            for file in files:
                _read_safely(_read_terraform, directory, file)
            for name in ("root.hcl", "terragrunt.hcl"):
                if (path / name).is_file():
                    _read_safely(_read_terragrunt, directory, path / name)
            if directory.files or directory.failures:
                seen[path] = (label, base, directory)
    called = {target for _, _, d in seen.values() for target in d.local_calls}
    for path, (label, base, directory) in seen.items():
        result.failures.extend(directory.failures)
        result.required_versions.extend(directory.required_versions)
        relative = path.relative_to(base.resolve()).as_posix()
        name = label.rstrip("/") + ("" if relative == "." else f"/{relative}")
        backends = list(directory.backends)
        terragrunt = directory.terragrunt_unit
        if terragrunt:
            inherited = directory.remote_state or (
                _inherited_remote_state(path, base.resolve(), seen) if directory.terragrunt_includes else None)
            if inherited is not None:
                # Terragrunt fills a `backend "<type>" {}` placeholder of the code with remote_state's config.
                backends = [b for b in backends if b.type != inherited.type] + [inherited]
        # A declared backend makes a root wherever it is; otherwise a called or `modules/` folder is a child.
        tf_root = bool(directory.backends) or (
            (directory.has_provider or directory.has_configuration)
            and path not in called and not _under_modules_folder(path, base.resolve()))
        if tf_root or terragrunt or any(f.whole_file for f in directory.failures):
            result.modules.append(RootModule(name, str(path), tuple(directory.files), tuple(backends),
                                             tuple(directory.failures), terragrunt))
    result.modules.sort(key=lambda m: m.name)
    return result


def _inherited_remote_state(path: Path, base: Path,
                            seen: dict[Path, tuple[str, Path, Directory]]) -> Backend | None:
    for parent in path.parents:
        entry = seen.get(parent)
        if entry is not None and entry[2].remote_state is not None:
            return entry[2].remote_state
        if parent == base:
            break
    return None
