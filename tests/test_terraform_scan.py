"""Scanning Terraform code: root modules, backends (``.tf``, ``.tf.json``, Terragrunt), state buckets,
``required_version``, and the ERROR for a file that does not parse."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.demo.continuity import STATE_BUCKET, TERRAFORM_DIR
from spacelift_dr.facts.terraform import Backend, literal, scan


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


S3_ROOT = '''
terraform {
  required_version = ">= 1.5.0"
  backend "s3" {
    bucket         = "acme-tfstate"
    key            = "network/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "acme-locks"
  }
}
provider "aws" { region = var.region }
module "vpc" { source = "../modules/vpc" }
'''


def test_hcl_literals_from_every_python_hcl2_shape() -> None:
    assert literal('"eu-west-1"') == "eu-west-1"  # python-hcl2 8 keeps the quotes
    assert literal("eu-west-1") == "eu-west-1"  # version 7 and .tf.json do not
    assert literal("${var.region}") is None
    assert literal('"${var.prefix}-state"') is None
    assert literal(True) is True
    assert literal(["a"]) is None


def test_root_modules_backends_and_state_buckets(tmp_path: Path) -> None:
    write(tmp_path, {
        "network/main.tf": S3_ROOT,
        "modules/vpc/main.tf": 'variable "cidr" {}\nresource "aws_vpc" "this" { cidr_block = var.cidr }\n',
        "shared/lib/main.tf": 'resource "null_resource" "n" {}\n',
        "app/main.tf.json": json.dumps({
            "terraform": {"required_version": "~> 1.6",
                          "backend": {"s3": {"bucket": "acme-app-state", "region": "eu-central-1"}}},
            "provider": {"aws": {}}}),
        "legacy/main.tf": 'terraform {\n  backend "local" {\n    path = "x.tfstate"\n  }\n}\nprovider "aws" {}\n',
        "nobackend/main.tf": 'provider "aws" {}\nresource "aws_sns_topic" "t" {}\n',
        "cloud/main.tf": 'terraform {\n  cloud {\n    organization = "acme"\n  }\n}\n',
        "partial/main.tf": 'terraform {\n  backend "s3" {}\n}\n',
        ".terraform/modules/x/main.tf": 'provider "aws" {}\n',
    })
    code = scan([("infra", tmp_path)])
    modules = {m.name: m for m in code.modules}
    # modules/vpc is under a modules folder and called locally; shared/lib is a root (not called).
    assert set(modules) == {"infra/network", "infra/app", "infra/legacy", "infra/nobackend", "infra/cloud",
                            "infra/partial", "infra/shared/lib"}
    network = modules["infra/network"].backend
    assert network is not None
    assert network.type == "s3"
    assert network.bucket == "acme-tfstate"
    assert network.setting("dynamodb_table") == "acme-locks"
    assert network.setting("region") == "eu-west-1"
    assert modules["infra/legacy"].backend is not None
    assert modules["infra/legacy"].backend.is_local
    assert modules["infra/nobackend"].backends == ()
    cloud = modules["infra/cloud"].backend
    assert cloud is not None
    assert cloud.type == "cloud"
    assert cloud.keeps_state_outside_spacelift
    assert set(code.state_buckets()) == {"acme-tfstate", "acme-app-state"}
    assert code.state_buckets()["acme-app-state"][0].region == "eu-central-1"
    assert [m.name for m in code.partial_s3_backends()] == ["infra/partial"]
    assert sorted(r.text for r in code.required_versions) == [">= 1.5.0", "~> 1.6"]
    assert code.failures == []


def test_terragrunt_units_inherit_remote_state(tmp_path: Path) -> None:
    write(tmp_path, {
        "root.hcl": ('remote_state {\n  backend = "s3"\n  config = {\n    bucket = "acme-tg-state"\n'
                     '    key = "${path_relative_to_include()}/terraform.tfstate"\n    region = "eu-west-1"\n  }\n}\n'),
        "live/prod/app/terragrunt.hcl": ('include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n'
                                         'terraform {\n  source = "git::https://example.com/modules.git//app"\n}\n'),
        "live/prod/db/terragrunt.hcl": 'terraform {\n  source = "../../../modules/db"\n}\n',
    })
    code = scan([("live", tmp_path)])
    modules = {m.name: m for m in code.modules}
    assert set(modules) == {"live/live/prod/app", "live/live/prod/db"}
    app = modules["live/live/prod/app"].backend
    assert app is not None
    assert app.type == "s3"
    assert app.bucket == "acme-tg-state"
    assert app.setting("key") is None
    assert modules["live/live/prod/db"].backends == ()  # no include: no inherited remote_state
    assert set(code.state_buckets()) == {"acme-tg-state"}


def test_spacelift_http_backend_is_spacelift_managed(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'terraform {\n  backend "http" {\n'
                                '    address = "https://acme.app.spacelift.io/state/stack"\n  }\n}\n'})
    backend = scan([("x", tmp_path)]).modules[0].backend
    assert backend is not None
    assert backend.is_spacelift_managed
    assert not backend.keeps_state_outside_spacelift


@pytest.mark.parametrize(("name", "text", "line"), [
    ("main.tf", 'terraform {\n  backend "s3" {\n    bucket = \n  }\n', 3),
    ("main.tf.json", '{\n  "terraform": {\n    "backend": ,\n  }\n}', 3),
])
def test_a_file_that_does_not_parse_names_file_and_line(tmp_path: Path, name: str, text: str, line: int) -> None:
    write(tmp_path, {f"broken/{name}": text, "fine/main.tf": S3_ROOT})
    code = scan([("code", tmp_path)])
    assert [f.file for f in code.failures] == [str(tmp_path / "broken" / name)]
    assert code.failures[0].line == line
    broken = next(m for m in code.modules if m.name == "code/broken")
    error = broken.failures[0].unobservable()
    assert str(error).startswith(f"could not parse {tmp_path / 'broken' / name}, line {line}: ")
    assert error.action == "terraform:parse"


def test_an_invalid_required_version_is_a_failure_not_ignored(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'terraform {\n  required_version = "latest"\n}\nprovider "aws" {}\n'})
    code = scan([("x", tmp_path)])
    assert code.required_versions == []
    assert "required_version" in code.failures[0].reason
    assert code.modules[0].unparsed == []  # the backend question is still answerable
    assert str(code.failures[0].unobservable()).startswith(f"{tmp_path / 'main.tf'}: required_version: ")


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    code = scan([("nowhere", tmp_path / "nowhere")])
    assert code.missing == ["nowhere"]
    assert code.modules == []


def test_the_shipped_demo_code_names_the_seeded_state_bucket() -> None:
    code = scan([("terraform", TERRAFORM_DIR)])
    assert [m.name for m in code.modules] == ["terraform/network", "terraform/platform"]
    assert set(code.state_buckets()) == {STATE_BUCKET}
    assert code.failures == []


def test_terragrunt_fills_the_codes_backend_placeholder(tmp_path: Path) -> None:
    write(tmp_path, {
        "unit/terragrunt.hcl": ('remote_state {\n  backend = "s3"\n  config = {\n    bucket = "acme-tg-state"\n'
                                '    region = "eu-west-1"\n  }\n}\nterraform {\n  source = "."\n}\n'),
        "unit/main.tf": 'terraform {\n  backend "s3" {}\n}\nprovider "aws" {}\n',
    })
    module = scan([("x", tmp_path)]).modules[0]
    assert module.backend is not None
    assert module.backend.bucket == "acme-tg-state"


def test_a_parse_error_does_not_echo_the_file(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'locals {\n  password = "hunter2-very-secret"\n  x = \n}\n'})
    failure = scan([("x", tmp_path)]).failures[0]
    assert failure.line == 3
    assert "hunter2" not in failure.reason


def test_terragrunt_generate_blocks_write_backends(tmp_path: Path) -> None:
    write(tmp_path, {
        "root.hcl": ('generate "backend" {\n  path = "backend.tf"\n  contents = <<EOT\nterraform {\n'
                     '  backend "s3" {\n    bucket = "acme-generated"\n    region = "eu-west-1"\n  }\n}\nEOT\n}\n'),
        "app/terragrunt.hcl": 'include "root" {\n  path = find_in_parent_folders("root.hcl")\n}\n',
    })
    module = scan([("x", tmp_path)]).modules[0]
    assert module.name == "x/app"
    assert module.backend is not None
    assert module.backend.bucket == "acme-generated"


def test_a_backend_makes_a_root_even_under_modules(tmp_path: Path) -> None:
    write(tmp_path, {"modules/stack/main.tf": 'terraform {\n  backend "s3" {\n    bucket = "b"\n  }\n}\n'})
    assert [m.name for m in scan([("x", tmp_path)]).modules] == ["x/modules/stack"]


bucket_names = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]", fullmatch=True)
regions = st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2"])


@given(bucket_names, regions, st.booleans())
def test_backend_settings_read_the_same_from_hcl_and_json(bucket: str, region: str, lockfile: bool) -> None:
    hcl = (f'terraform {{\n  backend "s3" {{\n    bucket = "{bucket}"\n    region = "{region}"\n'
           f'    use_lockfile = {str(lockfile).lower()}\n  }}\n}}\n')
    as_json = json.dumps({"terraform": {"backend": {"s3": {"bucket": bucket, "region": region,
                                                            "use_lockfile": lockfile}}}})
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write(root, {"hcl/main.tf": hcl, "json/main.tf.json": as_json})
        backends = [m.backend for m in scan([("x", root)]).modules]
    assert len(backends) == 2
    for backend in backends:
        assert backend is not None
        found = (backend.bucket, backend.setting("region"), backend.setting("use_lockfile"))
        assert found == (bucket, region, lockfile)


def test_an_s3_backend_writes_under_its_key_and_its_workspace_prefix() -> None:
    assert Backend.from_body("s3", {"bucket": "b", "key": "net/terraform.tfstate"}, "m").state_keys == (
        "net/terraform.tfstate", "env:/")
    assert Backend.from_body("s3", {"bucket": "b", "key": "k", "workspace_key_prefix": "ws"}, "m").state_keys == (
        "k", "ws/")
    # A key given at init (partial configuration) is not known: only a rule over every object will do.
    assert Backend.from_body("s3", {"bucket": "b"}, "m").state_keys is None
