"""Reliability of the refresh: a catalog of faults run through the local engine (the fault matrix), a
randomized soak over the same faults, and the report in docs/RELIABILITY.md generated from both."""
