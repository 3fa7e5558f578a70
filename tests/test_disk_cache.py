"""The parse cache: python-hcl2's reading of a file is kept between runs, by the file's exact text and the
parser's version, so that a run skips loading the parser for code it has read before (issue 18). A kept
parse is the parse: the scan of the demo's code is the same from the cache as without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spacelift_dr.demo.continuity import TERRAFORM_DIR
from spacelift_dr.disk_cache import CACHE_ENV
from spacelift_dr.facts.terraform import hcl2_loads, scan

CODE = 'terraform {\n  backend "s3" {\n    bucket = "acme-tfstate"\n    key = "a/terraform.tfstate"\n  }\n}\n'


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts python-hcl2 itself was asked to read."""
    import hcl2

    asked: list[str] = []
    original = hcl2.loads

    def loads(text: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(hcl2, "loads", loads)
    return asked


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "terraform").glob("*.json")) if (cache / "terraform").exists() else []


def test_a_parse_is_kept_and_read_back_without_the_parser(cache: Path, parses: list[str]) -> None:
    first = hcl2_loads(CODE)
    again = hcl2_loads(CODE)
    assert again == first
    assert "acme-tfstate" in str(first)
    assert parses == [CODE]
    assert len(_entries(cache)) == 1


def test_changed_code_is_parsed_again(cache: Path, parses: list[str]) -> None:
    hcl2_loads(CODE)
    changed = CODE.replace("acme-tfstate", "acme-other")
    assert "acme-other" in str(hcl2_loads(changed))
    assert parses == [CODE, changed]
    assert len(_entries(cache)) == 2


@pytest.mark.parametrize("spoiled", ["", "{not json", "[1, 2]", '"text"'])
def test_a_spoiled_entry_is_a_miss_and_is_replaced(cache: Path, parses: list[str], spoiled: str) -> None:
    expected = hcl2_loads(CODE)
    (entry,) = _entries(cache)
    entry.write_text(spoiled, encoding="utf-8")
    assert hcl2_loads(CODE) == expected
    assert len(parses) == 2
    assert hcl2_loads(CODE) == expected
    assert len(parses) == 2  # the replaced entry serves again


def test_a_failed_parse_is_not_kept(cache: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017 - lark raises many kinds
        hcl2_loads('terraform {\n  backend "s3" {\n')
    assert _entries(cache) == []


def test_off_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str]) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    hcl2_loads(CODE)
    hcl2_loads(CODE)
    assert parses == [CODE, CODE]
    assert list(tmp_path.iterdir()) == []


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    parses: list[str]) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv(CACHE_ENV, str(blocked / "cache"))
    assert hcl2_loads(CODE) == hcl2_loads(CODE)
    assert len(parses) == 2
    from spacelift_dr import disk_cache

    assert blocked / "cache" / "terraform" in disk_cache._UNWRITABLE  # not tried again for every file


def test_without_a_setting_it_lives_in_the_users_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    hcl2_loads(CODE)
    assert len(list((tmp_path / "xdg" / "spacelift-dr" / "terraform").glob("*.json"))) == 1


def test_the_demo_code_scans_the_same_from_the_cache(cache: Path, parses: list[str]) -> None:
    directories = [("demo", Path(TERRAFORM_DIR))]
    fresh = scan(directories)
    read = len(parses)
    assert read > 0
    kept = scan(directories)
    assert len(parses) == read  # nothing parsed the second time
    assert kept == fresh



# -- botocore's service descriptions ------------------------------------------------------------------


def _fresh_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process's shared loader (spacelift_dr.aws keeps one per process)."""
    from spacelift_dr import aws

    monkeypatch.setattr(aws, "_SHARED_LOADER", [])


def test_descriptions_are_read_without_their_documentation(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spacelift_dr.aws import aws_session

    _fresh_loader(monkeypatch)
    s3 = aws_session(aws_access_key_id="a", aws_secret_access_key="b").client("s3", region_name="eu-west-1")
    model = s3.meta.service_model
    assert model.operation_model("GetBucketReplication").documentation == ""
    assert model.shape_for("ReplicationRule").documentation == ""
    # botocore reads some documentation keys as required: they are there, empty
    assert {p.name: p.documentation for p in model.client_context_parameters}.get("Accelerate") == ""
    assert model.operation_model("GetBucketReplication").output_shape.members["ReplicationConfiguration"]


def test_a_second_process_reads_the_kept_descriptions(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.loaders

    from spacelift_dr.aws import aws_session

    _fresh_loader(monkeypatch)
    aws_session(aws_access_key_id="a", aws_secret_access_key="b").client("kms", region_name="eu-west-1")
    kept_files = sorted((cache / "botocore").glob("*.json"))
    assert kept_files  # the description, its endpoint rules, botocore's endpoint and retry data

    read: list[str] = []
    original = botocore.loaders.JSONFileLoader.load_file

    def load_file(self: Any, file_path: str) -> Any:
        read.append(file_path)
        return original(self, file_path)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", load_file)
    _fresh_loader(monkeypatch)
    kms = aws_session(aws_access_key_id="a", aws_secret_access_key="b").client("kms", region_name="eu-west-1")
    assert read == []
    assert kms.meta.service_model.operation_model("DescribeKey").output_shape.members["KeyMetadata"]

    kept_files[0].write_text("{spoiled", encoding="utf-8")  # a spoiled entry is read again from botocore
    _fresh_loader(monkeypatch)
    aws_session(aws_access_key_id="a", aws_secret_access_key="b").client("kms", region_name="eu-west-1")
    assert len(read) == 1


def test_without_a_cache_the_descriptions_are_still_lean(monkeypatch: pytest.MonkeyPatch) -> None:
    from spacelift_dr.aws import aws_session

    monkeypatch.setenv(CACHE_ENV, "off")
    _fresh_loader(monkeypatch)
    iam = aws_session(aws_access_key_id="a", aws_secret_access_key="b").client("iam", region_name="eu-west-1")
    assert iam.meta.service_model.operation_model("GetRole").documentation == ""


# -- the catalogue's texts, rendered ------------------------------------------------------------------


def test_the_catalogue_renders_the_same_from_the_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spacelift_dr import report_html
    from spacelift_dr.catalogue import catalogue

    title = catalogue()["DR-OBJ-03"].title
    report_html._rendered_catalogue.cache_clear()
    fresh = report_html._rendered_catalogue()
    assert fresh[title] == report_html._render(title)
    (entry,) = sorted((cache / "markdown").glob("*.json"))

    rendered: list[str] = []
    monkeypatch.setattr(report_html, "_render", lambda value: rendered.append(value) or "")
    report_html._rendered_catalogue.cache_clear()
    assert report_html._rendered_catalogue() == fresh
    assert rendered == []  # markdown-it was not needed

    entry.write_text('{"only": "one text"}', encoding="utf-8")  # an entry missing texts is a miss
    report_html._rendered_catalogue.cache_clear()
    report_html._rendered_catalogue()
    assert title in rendered
    report_html._rendered_catalogue.cache_clear()


def test_region_names_are_checked_against_the_runs_own_endpoint_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """The config's region check and the clients read botocore's endpoints.json once, through one loader."""
    from spacelift_dr import aws, config

    _fresh_loader(monkeypatch)
    config.known_regions.cache_clear()
    assert config.known_regions()["eu-central-1"] == "aws"
    shared = aws.data_loader()
    assert aws.aws_session(aws_access_key_id="a", aws_secret_access_key="b").core.get_component("data_loader") is shared
    config.known_regions.cache_clear()
