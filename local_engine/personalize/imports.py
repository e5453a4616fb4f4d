"""What a dataset import job finds at its data location, and the rules AWS
applies to it.

The emulator reads data through an ``ObjectStore``: anything that lists the
objects under a bucket and prefix. Unit tests pass a small fake;
``endpoint.serve`` passes moto's S3 (``endpoint.MotoS3``). A store answers
None for a bucket it does not know, and the import then behaves as it did
before the emulator read data (it goes ACTIVE): that keeps tests and
rehearsals that never create the bucket working unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .lifecycle import Failure

GB = 10**9
# "Maximum amount of bulk ... data per dataset import job": 100 GB with FULL
# and 1 GB with INCREMENTAL import mode, alike for item interactions, users,
# items, actions and action interactions ("Amazon Personalize endpoints and
# quotas", Service quotas). The table does not say whether a GB is 10^9 or
# 2^30 bytes; the emulator takes the smaller, so it never accepts more than
# AWS would.
MAX_BYTES = {"FULL": 100 * GB, "INCREMENTAL": 1 * GB}
# "Minimum number of item interactions records per dataset import job with
# FULL or INCREMENTAL import mode: 1000" (same quota table). The table sets
# no such minimum for the other dataset types.
MIN_INTERACTION_RECORDS = 1000
_INTERACTIONS = "INTERACTIONS"


@dataclass(frozen=True)
class StoredObject:
    """One object as a store lists it. ``read`` fetches the body only when a
    rule needs it, so a fake can declare a huge ``size`` without the bytes."""

    key: str
    size: int
    read: Callable[[], bytes]


class ObjectStore(Protocol):
    def list_objects(self, bucket: str, prefix: str) -> Sequence[StoredObject] | None:
        """Every object whose key starts with ``prefix`` (at any depth), or
        None if the store does not know ``bucket``."""


@dataclass(frozen=True)
class DataRead:
    """What an import job read: how many objects, their total size, and the
    CSV data rows in them (None when the job failed before counting them)."""

    objects: int
    bytes: int
    records: int | None


@dataclass(frozen=True)
class ImportOutcome:
    read: DataRead
    failure: Failure | None


def read_import_data(store: ObjectStore, location: str, *, mode: str, dataset_type: str | None) -> ImportOutcome | None:
    """Read ``location`` the way an import job does and judge it by AWS's
    quotas; None when the store does not know the bucket. The failure
    reasons are the emulator's words: AWS documents the rules, not its
    messages."""
    bucket, key = _split(location)
    listed = store.list_objects(bucket, key)
    if listed is None:
        return None
    objects = _objects_at(listed, key)
    total = sum(o.size for o in objects)
    if not objects:
        return ImportOutcome(DataRead(0, 0, 0), Failure(f"No data files found at {location}."))
    limit = MAX_BYTES[mode]
    if total > limit:
        reason = (
            f"The data at {location} is {total} bytes; a dataset import job with {mode} import mode "
            f"takes at most {limit // GB} GB."
        )
        return ImportOutcome(DataRead(len(objects), total, None), Failure(reason))
    records = sum(_data_rows(o.read()) for o in objects)
    read = DataRead(len(objects), total, records)
    if dataset_type == _INTERACTIONS and records < MIN_INTERACTION_RECORDS:
        reason = (
            f"The data at {location} has {records} interaction records; a dataset import job needs at "
            f"least {MIN_INTERACTION_RECORDS}."
        )
        return ImportOutcome(read, Failure(reason))
    return ImportOutcome(read, None)


def _split(location: str) -> tuple[str, str]:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    return bucket, key


def _objects_at(listed: Sequence[StoredObject], key: str) -> list[StoredObject]:
    """A location ending in / is a folder: its files, "Use the following
    syntax with a / after the folder name" (API reference, DataSource
    dataLocation). That page promises sub folders only to data deletion jobs,
    so an import reads the folder's own files, not those of its sub folders.
    Any other location names one object."""
    if key == "" or key.endswith("/"):
        # The folder's own key (a console "folder" marker) is not a file.
        return [o for o in listed if o.key.startswith(key) and o.key != key and "/" not in o.key[len(key) :]]
    return [o for o in listed if o.key == key]


def _data_rows(body: bytes) -> int:
    """CSV rows after the header, blank lines aside; quoted fields may span
    lines, so rows are counted by a CSV reader, not by newlines."""
    rows = csv.reader(io.StringIO(body.decode("utf-8", errors="replace")))
    return max(sum(1 for row in rows if row) - 1, 0)
