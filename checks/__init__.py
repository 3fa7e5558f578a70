"""The compliance checks: one module per area, each test one requirement ID of the catalogue."""
