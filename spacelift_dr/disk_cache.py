"""What the suite keeps on disk between runs: derived data that costs a run more to make than to read.

- Parsed Terraform: python-hcl2 takes a fifth of a second to load its parser and read the code of a small
  installation, every run, for code that rarely changes.
- botocore's service descriptions, read without their API documentation (nine tenths of the text): loading
  the descriptions of the dozen services a run reads was a fifth of its CPU, and their documentation
  strings stayed in memory to the end.
- The catalogue's texts rendered from Markdown for the report (importing markdown-it and rendering them
  took some 45 ms of every report).

An entry is named by the SHA-256 of everything it derives from (the parser's version and the file's text;
botocore's version and the description file's path, size and modification time; markdown-it's version and
the texts), so a changed input is a
miss and nothing can be stale. The cache is a convenience: an entry that cannot be read or written is a
miss, never an error. It lives in ``$SPACELIFT_DR_CACHE_DIR`` (``off`` turns it off), else
``$XDG_CACHE_HOME/spacelift-dr`` or ``~/.cache/spacelift-dr``; it holds nothing the code and the installed
libraries do not hold, and no secret.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

CACHE_ENV = "SPACELIFT_DR_CACHE_DIR"
_UNWRITABLE: set[Path] = set()  # cache folders this process could not create


def cache_dir() -> Path | None:
    configured = os.environ.get(CACHE_ENV, "")
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "spacelift-dr"


def _entry(kind: str, derived_from: str) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    return folder / kind / f"{hashlib.sha256(derived_from.encode()).hexdigest()}.json"


def kept(kind: str, derived_from: str) -> Any:
    """The data kept for this input, or None."""
    entry = _entry(kind, derived_from)
    if entry is None:
        return None
    try:
        return json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def keep(kind: str, derived_from: str, data: Any) -> None:
    """Keep data made from this input (atomically: a reader sees the whole entry or none). Data that JSON
    cannot carry exactly is not kept."""
    entry = _entry(kind, derived_from)
    if entry is None or entry.parent in _UNWRITABLE:
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        _UNWRITABLE.add(entry.parent)  # a read-only home: not tried again for every file of the run
        return
    try:
        encoded = json.dumps(data, ensure_ascii=False)
        if json.loads(encoded) != data:
            return
        handle, partial = tempfile.mkstemp(dir=entry.parent, prefix=".", suffix=".partial")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(encoded)
        os.replace(partial, entry)
    except (OSError, ValueError, TypeError, RecursionError):
        return


def derived(kind: str, derived_from: str, make: Callable[[], Any],
            usable: Callable[[Any], bool] = lambda data: data is not None) -> Any:
    """The data made from this input: kept, when a usable entry is there; else made, and kept (unless None)."""
    found = kept(kind, derived_from)
    if found is not None and usable(found):
        return found
    made = make()
    if made is not None:
        keep(kind, derived_from, made)
    return made


@cache
def library_version(distribution: str) -> str:
    """An installed distribution's version, part of what its derived data is named by."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
