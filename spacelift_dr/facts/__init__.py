"""Typed, read-only views over AWS responses, Postgres queries and host state.

Parsing and decisions (``from_api`` constructors, properties) are pure functions of API-shaped data, so
they are tested without AWS. Live objects fetch through :class:`~spacelift_dr.aws.AwsAccess` lazily,
once per run, and raise :class:`~spacelift_dr.errors.Unobservable` when a fact cannot be read.
"""
