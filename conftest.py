"""The suite's pytest entry point: command-line options and the fixture plugins.

Run the compliance checks with ``pytest --dr-config prod.yaml`` (your installation) or
``pytest --dr-demo`` (the embedded demo). The project's own tests live in ``tests/``.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "fixtures.session",
    "fixtures.requirements",
    "fixtures.evidence",
    "fixtures.report",
    "fixtures.services",
    "fixtures.storage",
    "fixtures.database",
    "fixtures.encryption",
    "fixtures.broker",
    "fixtures.continuity",
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from fixtures import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spacelift-dr", "Spacelift Self-Hosted disaster-recovery compliance")
    group.addoption("--dr-config", metavar="FILE",
                    help="check the installation described by this YAML config (see README)")
    group.addoption("--dr-demo", action="store_true",
                    help="check the embedded demo installation (a moto server on loopback)")
    group.addoption("--dr-demo-variant", choices=("builtin", "iotcore"), default="builtin",
                    help="the demo's MQTT broker: builtin (default) or iotcore")
    group.addoption("--dr-demo-mutations", metavar="NAMES", default=None,
                    help="comma-separated demo mutations instead of the demo's default gaps "
                         "('none' for the DR-ready installation)")
    group.addoption("--dr-reports", metavar="DIR", default="reports",
                    help="folder for dr-report.html, dr-results.json and dr-junit.xml (default: reports/)")
    group.addoption("--dr-requirement", metavar="ID", action="append", default=[],
                    help="run only this requirement (repeatable, or comma-separated), e.g. DR-OBJ-03")
