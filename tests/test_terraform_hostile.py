"""Hostile Terraform code is one ERROR where it matters, never the end of the run.

One file with a 5,000-digit number, a NUL character, nesting thousands deep or 800 KB of text, or a
``terraform_dirs`` entry that is a symlink loop, once aborted collection (exit 2, no result) even for
``-m encryption``; an 800 KB file took 21 s. Each file now costs bounded time and memory, and a file that
cannot be scanned is ERROR on the continuity results that depend on it, and on nothing else.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.demo.continuity import TERRAFORM_DIR
from spacelift_dr.facts.terraform import MAX_FILE_BYTES, scan
from tests.scenario import Outcome, run_checks

BACKEND = ('terraform {\n  backend "s3" {\n    bucket = "hostile-state"\n    key = "k"\n'
           '    region = "eu-west-1"\n  }\n}\n')
HOSTILE = {
    "digits": BACKEND + "locals { n = " + "9" * 5000 + " }\n",
    "nul": BACKEND + 'module "m" {\n  source = "./a\x00b"\n}\n',
    "deep": BACKEND + "locals { x = " + "[" * 3000 + "]" * 3000 + " }\n",
    "big": BACKEND + "".join(f'locals {{ v{i} = "{"x" * 60}" }}\n' for i in range(10_000)),
}

fragments = st.sampled_from([BACKEND, "[", "]", "{", "}", "9" * 1200, "\x00", '"', "\\u0000", "locals { a = ",
                             'module "m" { source = "./x" }\n', "x" * 50_000, "\n", "#", "<<EOT\n", "EOT\n"])


@given(parts=st.lists(fragments, max_size=12), json_file=st.booleans())
def test_scanning_any_file_records_it_or_a_failure_quickly(tmp_path_factory: pytest.TempPathFactory,
                                                           parts: list[str], json_file: bool) -> None:
    folder = tmp_path_factory.mktemp("tf")
    (folder / ("main.tf.json" if json_file else "main.tf")).write_text("".join(parts), encoding="utf-8")
    started = time.monotonic()
    result = scan([("code", folder)])  # never raises
    assert time.monotonic() - started < 15
    if result.modules:
        assert result.modules[0].files or result.modules[0].unparsed


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_each_hostile_file_is_a_failure_of_that_file(case: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(HOSTILE[case], encoding="utf-8")
    started = time.monotonic()
    result = scan([("code", tmp_path)])
    assert time.monotonic() - started < 2
    assert [f.file for f in result.failures] == [str(tmp_path / "main.tf")]
    assert len(HOSTILE["big"].encode()) > MAX_FILE_BYTES


@pytest.fixture(scope="module")
def hostile_code(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    base = tmp_path_factory.mktemp("hostile-code")
    code = base / "terraform"
    shutil.copytree(TERRAFORM_DIR, code)
    for name, text in HOSTILE.items():
        (code / f"hostile-{name}").mkdir()
        (code / f"hostile-{name}" / "main.tf").write_text(text, encoding="utf-8")
    loop = base / "loop"
    os.symlink(base / "loop-again", loop)
    os.symlink(loop, base / "loop-again")
    return base, [str(code), str(loop)]


def test_hostile_code_never_stops_other_areas(moto: DemoServer, hostile_code: tuple[Path, list[str]],
                                              tmp_path: Path) -> None:
    _, dirs = hostile_code
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "encryption",
                         overrides={"continuity": {"terraform_dirs": dirs}})
    assert outcome.exit_code in (0, 1, 6)
    assert outcome.results
    assert {r["category"] for r in outcome.results} == {"encryption"}


def test_hostile_code_is_an_error_only_where_it_matters(moto: DemoServer, dr_ready: Outcome,
                                                       hostile_code: tuple[Path, list[str]], tmp_path: Path) -> None:
    _, dirs = hostile_code
    started = time.monotonic()
    outcome = run_checks(seed(moto.url), tmp_path, "-m", "continuity",
                         overrides={"continuity": {"terraform_dirs": dirs}})
    assert time.monotonic() - started < 120
    assert outcome.exit_code in (1, 6)
    before = {r["id"]: r["status"] for r in dr_ready.results if r["category"] == "continuity"}
    for result in outcome.results:
        if result["id"] in before and "loop" not in result["id"]:
            assert result["status"] == before[result["id"]], result["id"]
        else:  # the hostile files' own results, and the folder that cannot be resolved
            assert result["status"] == "ERROR", (result["id"], result["message"])
    hostile = {r["resource"] for r in outcome.results if r["status"] == "ERROR"}
    for name in HOSTILE:
        assert any(f"hostile-{name}" in resource for resource in hostile), name
