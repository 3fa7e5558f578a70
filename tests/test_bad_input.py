"""Bad input, generated: malformed waiver files end in the one clear message; malformed Spacelift settings
end in per-check verdicts (ERROR where a fact cannot be read), never a traceback or a suite error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.errors import ConfigError
from spacelift_dr.waivers import load_waivers
from tests.scenario import run_checks

GOOD = {"requirement": "DR-OBJ-03", "resource": "spacelift-*", "reason": "accepted", "owner": "sre",
        "expires": "2099-01-01"}

odd = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0x0590, max_codepoint=0x1F6FF), min_size=1, max_size=5),
    st.just("x" * 5000), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                             max_size=2),
    st.dates().map(dt.date.isoformat), st.just("31/12/2026"), st.just("DR-NOPE-99"),
)


@st.composite
def waiver_files(draw: st.DrawFn) -> Any:
    """A waivers file with one entry spoiled: a key dropped, added, or given an odd value; or not a list."""
    if draw(st.integers(0, 9)) == 0:
        return draw(odd)
    entry: dict[str, Any] = dict(GOOD)
    action = draw(st.sampled_from(["drop", "add", "replace"]))
    key = draw(st.sampled_from(sorted(GOOD)))
    if action == "drop":
        entry.pop(key)
    elif action == "add":
        entry[draw(st.text(min_size=1, max_size=10))] = draw(odd)
    else:
        entry[key] = draw(odd)
    return [GOOD, entry]


@given(waiver_files())
def test_a_malformed_waivers_file_is_one_clear_message_or_valid(tmp_path_factory: pytest.TempPathFactory,
                                                                data: Any) -> None:
    path = tmp_path_factory.mktemp("waivers") / "waivers.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    message = ""
    try:
        waivers = load_waivers(path)
    except ConfigError as error:  # anything else fails the test
        message = str(error)
    if message:
        assert message.startswith(str(path))
        assert "expected" in message
    else:
        assert all(w.requirement and w.owner and w.reason for w in waivers)


SETTINGS = ["ENCRYPTION_TYPE", "ENCRYPTION_KMS_ENCRYPTION_KEY_ID", "ENCRYPTION_KMS_SIGNING_KEY_ID",
            "ENCRYPTION_RSA_PRIVATE_KEY", "MQTT_BROKER_TYPE", "MQTT_BROKER_ENDPOINT", "SERVER_DOMAIN", "AWS_REGION",
            "AWS_SECONDARY_REGION", "MESSAGE_QUEUE_TYPE", "OBJECT_STORAGE_BUCKET_STATES",
            "MESSAGE_QUEUE_SQS_ASYNC_URL"]
setting_values = st.one_of(
    st.text(max_size=30), st.just(""), st.just("x" * 3000), st.just("arn:aws:kms:nowhere:1:key/"),
    st.just("tls://"), st.just("tls://host:notaport"), st.just("arn:aws:kms:eu-west-1:123456789012:alias/"),
    st.text(alphabet=st.characters(min_codepoint=0x0590, max_codepoint=0x1F6FF), min_size=1, max_size=8),
)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(SETTINGS), setting_values, min_size=1, max_size=4))
def test_malformed_settings_never_crash_the_suite(moto_server: DemoServer, tmp_path_factory: pytest.TempPathFactory,
                                                  spoiled: dict[str, str]) -> None:
    moto_server.reset()
    outcome = run_checks(seed(moto_server.url, environment=spoiled), tmp_path_factory.mktemp("settings"))
    assert outcome.exit_code in (0, 1, 6), "the run completed (no usage or internal error)"
    assert outcome.results
    crashes = [r["id"] for r in outcome.results if r["message"].startswith("suite error")]
    assert crashes == []
    # A verdict still rests on observations: the spoiled settings are what the checks report on.
    assert all(r["message"] for r in outcome.results)


def test_a_spoiled_key_setting_is_an_error_naming_the_action(moto_server: DemoServer, tmp_path: Path) -> None:
    moto_server.reset()
    outcome = run_checks(seed(moto_server.url, environment={"ENCRYPTION_KMS_ENCRYPTION_KEY_ID": "not-a-key"}),
                         tmp_path, "-m", "encryption")
    result = outcome.result("DR-KMS-02")
    assert result["status"] == "ERROR"
    assert "kms:DescribeKey" in result["message"]
