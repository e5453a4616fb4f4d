"""Fixtures of the docs tier. docs/RELIABILITY.md is generated from the reliability tier's observations of every
fault, so its test takes them from there (observed once per session, whichever tier asks first)."""

from tests.reliability.conftest import environments, observations

__all__ = ["environments", "observations"]
