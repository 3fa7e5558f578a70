"""Replacement-service facts on API-shaped data: volumes, image references, registry replication rules
and secret references."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.errors import Unobservable
from spacelift_dr.facts.services import (
    DOCKER_HUB,
    Image,
    RegistryReplication,
    RegistryReplicationRule,
    SecretReplication,
    ServiceFacts,
    persistent_kind,
    persistent_mounts,
    secret_arn,
    secret_name,
)
from spacelift_dr.installation import Container, Service

account = st.from_regex(r"[0-9]{12}", fullmatch=True)
region = st.sampled_from(["eu-west-1", "eu-central-1", "us-east-1", "ap-southeast-2", "us-gov-west-1"])
repository = st.from_regex(r"[a-z][a-z0-9-]{0,20}(/[a-z][a-z0-9-]{0,10})?", fullmatch=True)
tag = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)


@pytest.mark.parametrize(("volume", "kind"), [
    ({"name": "d", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}, "EFS file system fs-1"),
    ({"name": "d", "fsxWindowsFileServerVolumeConfiguration": {"fileSystemId": "fs-2"}}, "FSx file system fs-2"),
    ({"name": "d", "host": {"sourcePath": "/srv/data"}}, "host path /srv/data"),
    ({"name": "d", "dockerVolumeConfiguration": {"scope": "shared", "driver": "local"}},
     "shared Docker volume (driver local)"),
    ({"name": "d", "dockerVolumeConfiguration": {"scope": "task"}}, None),
    ({"name": "d", "host": {}}, None),
    ({"name": "d"}, None),  # a Fargate bind mount: ephemeral storage of the task
])
def test_persistent_volume_kinds(volume: dict[str, Any], kind: str | None) -> None:
    assert persistent_kind(volume) == kind


def _service(volumes: list[dict[str, Any]], mounts: list[dict[str, Any]]) -> Service:
    container = Container("server", "x", {}, {}, tuple(mounts))
    return Service("server", "svc", "td", (container,), tuple(volumes))


def test_only_mounted_persistent_volumes_count() -> None:
    efs = {"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}
    scratch = {"name": "tmp"}
    assert persistent_mounts(_service([efs, scratch], [])) == []
    assert persistent_mounts(_service([efs, scratch], [{"sourceVolume": "tmp", "containerPath": "/tmp"}])) == []
    assert persistent_mounts(_service([efs], [{"sourceVolume": "data", "containerPath": "/d"}])) == [
        {"volume": "data", "kind": "EFS file system fs-1", "mounted_at": "server:/d"}]


@pytest.mark.parametrize(("reference", "registry", "repo", "private_ecr"), [
    ("nginx", DOCKER_HUB, "library/nginx", False),
    ("nginx:1.27", DOCKER_HUB, "library/nginx", False),
    ("spacelift/launcher:latest", DOCKER_HUB, "spacelift/launcher", False),
    ("docker.io/library/busybox:1.36", "docker.io", "library/busybox", False),
    ("public.ecr.aws/spacelift/backend:v3", "public.ecr.aws", "spacelift/backend", False),
    ("ghcr.io/spacelift-io/backend@sha256:" + "a" * 64, "ghcr.io", "spacelift-io/backend", False),
    ("localhost:5000/app:dev", "localhost:5000", "app", False),
    ("registry.example.com:5000/team/app", "registry.example.com:5000", "team/app", False),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/spacelift-backend-ab12c:v3.0.0",
     "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "spacelift-backend-ab12c", True),
    ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app@sha256:" + "b" * 64,
     "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "app", True),
])
def test_image_references(reference: str, registry: str, repo: str, private_ecr: bool) -> None:
    image = Image.parse(reference)
    assert (image.registry, image.repository, image.in_private_ecr) == (registry, repo, private_ecr)


@given(account=account, region=region, repository=repository, tag=tag, digest=st.booleans())
def test_every_private_ecr_image_names_its_account_region_and_repository(account: str, region: str,
                                                                         repository: str, tag: str,
                                                                         digest: bool) -> None:
    suffix = "@sha256:" + "c" * 64 if digest else f":{tag}"
    image = Image.parse(f"{account}.dkr.ecr.{region}.amazonaws.com/{repository}{suffix}")
    assert (image.ecr_account, image.ecr_region, image.repository) == (account, region, repository)


def _rule(regions: list[str], filters: list[str]) -> RegistryReplicationRule:
    return RegistryReplicationRule.from_api({
        "destinations": [{"region": r, "registryId": "123456789012"} for r in regions],
        "repositoryFilters": [{"filter": f, "filterType": "PREFIX_MATCH"} for f in filters]})


@given(repository=repository, filters=st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), max_size=3),
       destinations=st.lists(region, max_size=3), backup=region)
def test_a_rule_covers_a_repository_when_a_prefix_matches_and_a_destination_is_the_backup(
        repository: str, filters: list[str], destinations: list[str], backup: str) -> None:
    replication = RegistryReplication("123456789012", (_rule(destinations, filters),))
    covered = bool(replication.rules_replicating(repository, backup))
    matches = not filters or any(repository.startswith(f) for f in filters)
    assert covered == (matches and backup in destinations)


def test_registry_without_rules_replicates_nothing() -> None:
    empty = RegistryReplication.from_api({"registryId": "123456789012", "replicationConfiguration": {"rules": []}})
    assert empty.rules_replicating("spacelift-backend", "eu-central-1") == []
    assert RegistryReplication.from_api({"registryId": "1"}).rules == ()


def test_another_accounts_registry_is_unobservable() -> None:
    class Aws:
        def call(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return {"registryId": "111111111111", "replicationConfiguration": {"rules": []}}

    image = Image.parse("222222222222.dkr.ecr.eu-west-1.amazonaws.com/backend:v1")
    with pytest.raises(Unobservable, match="account 222222222222's registry"):
        ServiceFacts(Aws()).registry_replication(image)  # type: ignore[arg-type]


@given(region=region, account=account, name=st.from_regex(r"[a-z][a-z0-9/_+=.@-]{0,30}", fullmatch=True),
       random=st.from_regex(r"[A-Za-z0-9]{6}", fullmatch=True),
       key=st.one_of(st.just(""), st.from_regex(r"[A-Z_]{1,12}", fullmatch=True).map(lambda k: f":{k}::")))
def test_secret_arn_drops_the_json_key_stage_and_version(region: str, account: str, name: str, random: str,
                                                         key: str) -> None:
    arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{random}"
    assert secret_arn(arn + key) == arn
    assert secret_name(arn) == name


@pytest.mark.parametrize("value_from", [
    "arn:aws:ssm:eu-west-1:123456789012:parameter/spacelift/license",
    "spacelift-license",
    "arn:aws:secretsmanager:eu-west-1:123456789012",
])
def test_references_that_are_not_secrets_manager_secrets(value_from: str) -> None:
    assert secret_arn(value_from) is None


def test_secret_replication_status() -> None:
    secret = SecretReplication.from_api({
        "ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf", "Name": "db",
        "ReplicationStatus": [{"Region": "eu-central-1", "Status": "Failed", "StatusMessage": "no key"},
                              {"Region": "us-east-1", "Status": "InSync"}]})
    assert secret.primary_region == "eu-west-1"
    replica = secret.replica_in("eu-central-1")
    assert replica is not None
    assert not replica.in_sync
    backup = secret.replica_in("us-east-1")
    assert backup is not None
    assert backup.in_sync
    assert secret.replica_in("ap-south-1") is None
    assert SecretReplication.from_api({"ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:x-AbCdEf"}).replicas == ()
