"""Secrets never leave: generated secret values placed in every secret-bearing setting, the DSNs and the
Spacelift API key appear in no output (HTML, JSON, JUnit, terminal, logs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from spacelift_dr.demo import DemoServer, seed
from tests.scenario import environment, run_checks

# Long enough not to occur by chance in a report; any printable character a password may hold.
secret = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="\\'\"`$"),
                 min_size=14, max_size=40).filter(lambda s: len(set(s)) > 6)


@settings(max_examples=4, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None)
@given(admin=secret, token=secret, custom=secret, dsn_password=secret, api_secret=secret, live_password=secret)
def test_no_secret_appears_in_any_output(admin: str, token: str, custom: str, dsn_password: str, api_secret: str,
                                         live_password: str, moto_server: DemoServer,
                                         tmp_path_factory: pytest.TempPathFactory,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    moto_server.reset()
    demo = seed(moto_server.url, environment={
        "ADMIN_PASSWORD": admin, "LICENSE_TOKEN": token, "WEBHOOK_SIGNING_SECRET": custom,
    })
    writer = demo.context.facts["database"]["writer_endpoint"]
    installation = demo.config().model_dump(mode="json", exclude_defaults=True)["installation"]
    overrides = {
        # A DATABASE_URL given in the clear (the suite reads the host from it) and the live DSNs.
        "installation": {**installation, "settings": {
            "DATABASE_URL": f"postgres://spacelift:{dsn_password}@{writer}:5432/spacelift"}},
        "continuity": {"spacelift_api": {"endpoint": "http://127.0.0.1:9"}},
    }
    capsys.readouterr()
    with environment({"SPACELIFT_DR_DATABASE_URL": f"postgresql://auditor:{live_password}@127.0.0.1:9/spacelift",
                      "SPACELIFT_API_KEY_ID": "01DEMOKEYID", "SPACELIFT_API_KEY_SECRET": api_secret}):
        outcome = run_checks(demo, tmp_path_factory.mktemp("secrets"), overrides=overrides, capsys=capsys)
    assert outcome.results, "the run produced results to scan"
    outputs = {path.name: path.read_text(encoding="utf-8") for path in Path(outcome.reports).iterdir()
               if path.is_file()}
    outputs["terminal"] = outcome.output
    for value in (admin, token, custom, dsn_password, api_secret, live_password):
        for name, text in outputs.items():
            assert value not in text, f"a secret leaked into {name}"


# No shrinking: one example is a whole run of the suite; a failure names the output it leaked into.
@settings(max_examples=3, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(admin=secret, token=secret, custom=secret, dsn_password=secret)
def test_no_kubernetes_secret_value_appears_in_any_output(admin: str, token: str, custom: str, dsn_password: str,
                                                          moto_server: DemoServer,
                                                          tmp_path_factory: pytest.TempPathFactory,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """EKS: the module's Secrets hold the admin password, the license, a custom secret setting and the
    DSN in clear; the suite reads those Secrets, and none of their secret values leaves."""
    import base64
    from urllib.parse import quote

    moto_server.reset()
    demo = seed(moto_server.url, variant="eks", environment={
        "ADMIN_PASSWORD": admin, "LICENSE_TOKEN": token, "WEBHOOK_SIGNING_SECRET": custom})
    try:
        api = demo.kubernetes_api
        assert api is not None
        shared = api.objects[("", "secrets", "spacelift", "spacelift-shared")]
        dsn = base64.b64decode(shared["data"]["DATABASE_URL"]).decode()
        shared["data"]["DATABASE_URL"] = base64.b64encode(
            dsn.replace(":demo-db-pa55word-never-shown@", f":{quote(dsn_password, safe='')}@").encode()).decode()
        capsys.readouterr()
        outcome = run_checks(demo, tmp_path_factory.mktemp("k8s-secrets"), capsys=capsys)
    finally:
        demo.close()
    assert outcome.result("DR-DB-01")["status"] == "PASS", "the database was found from the DSN's host"
    outputs = {path.name: path.read_text(encoding="utf-8") for path in Path(outcome.reports).iterdir()
               if path.is_file()}
    outputs["terminal"] = outcome.output
    for value in (admin, token, custom, dsn_password, quote(dsn_password, safe="")):
        for name, text in outputs.items():
            assert value not in text, f"a Kubernetes Secret's value leaked into {name}"
