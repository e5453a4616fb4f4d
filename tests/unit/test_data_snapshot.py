"""What a data location holds, read as Personalize reads it, and fingerprinted for the skip decision."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from refresh_common.data import DataUnreadable, snapshot


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="history")
        yield client


def put(s3: Any, key: str, body: bytes = b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\n") -> None:
    s3.put_object(Bucket="history", Key=key, Body=body)


def test_a_folder_holds_its_own_files_not_sub_folders_nor_the_folder_marker(s3: Any) -> None:
    for key in ("day=1/a.csv", "day=1/b.csv", "day=1/", "day=1/old/c.csv", "day=10/d.csv"):
        put(s3, key)
    held = snapshot(s3, "s3://history/day=1/")
    assert (held.objects, held.bytes) == (2, 2 * 34)


def test_the_same_files_under_another_day_have_the_same_fingerprint_and_a_change_does_not(s3: Any) -> None:
    for day in ("1", "2"):
        put(s3, f"day={day}/a.csv")
    put(s3, "day=3/a.csv", b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i2,1\n")
    one, two, three = (snapshot(s3, f"s3://history/day={d}/") for d in "123")
    assert one.fingerprint == two.fingerprint != three.fingerprint


def test_a_single_object_location_is_that_object(s3: Any) -> None:
    put(s3, "all.csv")
    put(s3, "all.csv.bak")
    assert snapshot(s3, "s3://history/all.csv").objects == 1


def test_a_location_that_cannot_be_listed_says_so(s3: Any) -> None:
    with pytest.raises(DataUnreadable, match="NoSuchBucket"):
        snapshot(s3, "s3://no-such-bucket/day=1/")
