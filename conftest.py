"""The suite's pytest entry point: the fixture plugins (the options are in spacelift_dr/pytest_plugin).

Run the compliance checks with ``pytest --dr-config prod.yaml`` (your installation) or
``pytest --dr-demo`` (the embedded demo). The project's own tests live in ``tests/``.
"""

from __future__ import annotations

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
    "fixtures.distributed",
]
