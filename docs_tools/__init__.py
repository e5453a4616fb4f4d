"""Generators of the reference pages in docs/ that are derived from the code, so they cannot drift from it:
the state machine's picture (`state_machine_diagram`) and the configuration reference (`configuration_reference`).
A unit test regenerates each in memory and fails when the committed page differs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
