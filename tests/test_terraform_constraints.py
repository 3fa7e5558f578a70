"""``required_version`` constraints as Terraform reads them: units and hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacelift_dr.facts.terraform import Constraint, Version, VersionRequirement

numbers = st.integers(min_value=0, max_value=30)
releases = st.builds(Version, numbers, numbers, numbers)
operators = st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "~>"])


def v(text: str) -> Version:
    return Version.parse(text)


@pytest.mark.parametrize(("constraint", "version", "allowed"), [
    (">= 1.5.0, < 2.0.0", "1.9.5", True),
    (">= 1.5.0, < 2.0.0", "1.4.6", False),
    (">= 1.5.0, < 2.0.0", "2.0.0", False),
    ("~> 1.6", "1.9.0", True),
    ("~> 1.6", "1.5.9", False),
    ("~> 1.6", "2.0.0", False),
    ("~> 1.6.0", "1.6.9", True),
    ("~> 1.6.0", "1.7.0", False),
    ("~> 1", "1.99.0", True),
    ("~> 1", "2.0.0", False),
    ("= 1.5.7", "1.5.7", True),
    ("1.5.7", "1.5.8", False),
    ("!= 1.5.7", "1.5.8", True),
    ("!= 1.5.7", "1.5.7", False),
    ("> 1.5", "1.5.0", False),
    ("<= 1.5", "1.5.0", True),
    (">=1.2.0,<1.3", "1.2.9", True),
    (">= 1.10.0", "1.10.0-beta1", False),  # a prerelease only matches a constraint naming one
    (">= 1.10.0-alpha1", "1.10.0-beta1", True),
    (">= 1.10.0-alpha1", "1.11.0-beta1", False),
])
def test_required_version_examples(constraint: str, version: str, allowed: bool) -> None:
    assert VersionRequirement.parse(constraint).allows(v(version)) is allowed


@pytest.mark.parametrize("text", ["", " ", ">=", "1.x", ">= 1.5,", ", >= 1.5", "=> 1.5", "~ 1.2", "latest"])
def test_malformed_constraints_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        VersionRequirement.parse(text)


def test_version_texts() -> None:
    assert v("v1.9.5") == v("1.9.5")
    assert v("1.10.0-beta1") < v("1.10.0") < v("1.10.1")
    assert v("1.10.0-beta2") < v("1.10.0-rc1")
    assert v("1.10.0-beta.2") < v("1.10.0-beta.10")  # numeric identifiers compare as numbers
    assert str(v("1.6")) == "1.6.0"


@given(releases, releases)
def test_ordering_follows_the_numbers(a: Version, b: Version) -> None:
    assert (a < b) == (a.core < b.core)
    assert (a == b) == (a.core == b.core)


@given(releases, releases)
def test_comparison_operators_mean_what_they_say(bound: Version, version: Version) -> None:
    assert Constraint(">=", bound).allows(version) == (version >= bound)
    assert Constraint(">", bound).allows(version) == (version > bound)
    assert Constraint("<", bound).allows(version) == (version < bound)
    assert Constraint("<=", bound).allows(version) == (version <= bound)
    assert Constraint("=", bound).allows(version) != Constraint("!=", bound).allows(version)


@given(releases, releases)
def test_pessimistic_operator_lets_only_the_last_written_part_grow(bound: Version, version: Version) -> None:
    three = Constraint.parse(f"~> {bound.major}.{bound.minor}.{bound.patch}")
    two = Constraint.parse(f"~> {bound.major}.{bound.minor}")
    assert three.allows(version) == (bound.core <= version.core < (bound.major, bound.minor + 1, 0))
    assert two.allows(version) == ((bound.major, bound.minor, 0) <= version.core < (bound.major + 1, 0, 0))


@given(st.lists(st.tuples(operators, releases), min_size=1, max_size=4), releases)
def test_a_list_holds_when_every_part_holds(parts: list[tuple[str, Version]], version: Version) -> None:
    text = ", ".join(f"{op} {bound}" for op, bound in parts)
    requirement = VersionRequirement.parse(text)
    assert requirement.allows(version) == all(Constraint.parse(f"{op} {b}").allows(version) for op, b in parts)


@given(operators, releases, releases, st.sampled_from(["alpha1", "beta2", "rc1"]))
def test_a_prerelease_never_satisfies_a_release_only_constraint(op: str, bound: Version, core: Version,
                                                                pre: str) -> None:
    prerelease = Version(core.major, core.minor, core.patch, pre)
    assert not Constraint(op, bound).allows(prerelease)
