"""Disaster-recovery compliance checks for Spacelift Self-Hosted installations.

This package is plain Python (no pytest imports): configuration, discovery, read-only AWS access,
typed facts, the requirement catalogue, evidence and report writing, and the demo installation.
"""

__version__ = "0.1.0"
