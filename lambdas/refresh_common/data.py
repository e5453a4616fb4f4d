"""What a dataset's data location holds today, read from S3 before any import job is created.

The snapshot says how much data there is (for Personalize's import size limits) and fingerprints it:
the keys relative to the location (a location usually names the day, `.../base_date=20261129/`), sizes
and ETags. Two days with the same fingerprint hold the same data, so the second import can be skipped.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

_S3_URL = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<key>.*)$")


@dataclass(frozen=True)
class DataSnapshot:
    objects: int
    bytes: int
    fingerprint: str


class DataUnreadable(Exception):
    """The location could not be listed: nothing can be decided from it."""


def snapshot(s3: Any, location: str) -> DataSnapshot:
    """List `location` (a folder ending in '/', or one object) as Personalize reads it: a folder's own
    files, not its sub folders, and not the empty key some tools create to mark a folder."""
    match = _S3_URL.match(location)
    if match is None:
        raise DataUnreadable(f"{location} is not an s3:// URL")
    bucket, prefix = match["bucket"], match["key"]
    entries = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :]
                if _in_location(prefix, relative):
                    entries.append((relative, int(item["Size"]), str(item.get("ETag", ""))))
    except ClientError as exc:
        raise DataUnreadable(f"{location} could not be listed: {exc.response['Error'].get('Code')}") from exc
    entries.sort()
    digest = hashlib.sha256(json.dumps(entries).encode()).hexdigest()
    return DataSnapshot(len(entries), sum(size for _, size, _ in entries), digest)


def _in_location(prefix: str, relative: str) -> bool:
    if not prefix.endswith("/"):
        return relative == ""  # a single object: the key itself
    return relative != "" and "/" not in relative
