"""The demo's continuity side. Placeholder until its checks land; seeds nothing yet."""

from __future__ import annotations

from .context import SeedContext

MUTATIONS: dict[str, str] = {}


def seed(ctx: SeedContext) -> None:
    """Nothing to seed yet."""
