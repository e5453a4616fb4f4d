"""Validation of the execution input: a Glue success event or a manual start, nothing else.

The input is untrusted: only the documented fields are accepted, each with its type and
format checked, and nothing from it is used to build an ARN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .errors import InvalidRunInput

GLUE_FIELDS = frozenset({"trigger", "job_name", "job_run_id", "event_time"})
MANUAL_FIELDS = frozenset({"trigger", "base_date", "force", "campaigns"})
BASE_DATE = re.compile(r"^\d{8}$")
_JOB_RUN_ID = re.compile(r"^jr_[A-Za-z0-9_-]{1,252}$")
_EVENT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class RunRequest:
    """What started this run, and the base date (YYYYMMDD) it refreshes."""

    base_date: str
    trigger: str
    glue_job_name: str | None = None
    glue_job_run_id: str | None = None
    event_time: str | None = None
    force: bool = False  # import and train afresh, even where the data did not change or the day completed
    campaigns: tuple[str, ...] = ()  # the campaigns to refresh (a manual start's choice); empty: all of them


def parse_run_input(payload: Any, *, glue_job_names: tuple[str, ...], time_zone: str) -> RunRequest:
    if not isinstance(payload, dict):
        raise InvalidRunInput(f"execution input must be a JSON object, got {type(payload).__name__}")
    trigger = payload.get("trigger", "manual" if "base_date" in payload else None)
    if trigger == "glue":
        return _glue_request(payload, glue_job_names, time_zone)
    if trigger == "manual":
        return _manual_request(payload)
    raise InvalidRunInput(
        "execution input must be a Glue success event {trigger: 'glue', job_name, job_run_id, event_time} "
        "or a manual start {base_date: 'YYYYMMDD'}"
    )


def _glue_request(payload: dict[str, Any], glue_job_names: tuple[str, ...], time_zone: str) -> RunRequest:
    _only(payload, GLUE_FIELDS, required=GLUE_FIELDS)
    job_name, job_run_id, event_time = payload["job_name"], payload["job_run_id"], payload["event_time"]
    if job_name not in glue_job_names:
        raise InvalidRunInput(f"job_name {job_name!r} is not one of the configured Glue jobs {list(glue_job_names)}")
    if not isinstance(job_run_id, str) or not _JOB_RUN_ID.match(job_run_id):
        raise InvalidRunInput(f"job_run_id must look like 'jr_<id>', got {job_run_id!r}")
    if not isinstance(event_time, str) or not _EVENT_TIME.match(event_time):
        raise InvalidRunInput(f"event_time must be an ISO-8601 time such as 2026-11-28T15:00:00Z, got {event_time!r}")
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    base_date = moment.astimezone(ZoneInfo(time_zone)).strftime("%Y%m%d")
    return RunRequest(base_date, "glue", job_name, job_run_id, event_time)


def _manual_request(payload: dict[str, Any]) -> RunRequest:
    _only(payload, MANUAL_FIELDS, required=frozenset({"base_date"}))
    base_date = payload["base_date"]
    if not isinstance(base_date, str) or not BASE_DATE.match(base_date):
        raise InvalidRunInput(f"base_date must be a string YYYYMMDD, got {base_date!r}")
    try:
        day = date(int(base_date[:4]), int(base_date[4:6]), int(base_date[6:]))
    except ValueError:
        raise InvalidRunInput(f"base_date {base_date!r} is not a calendar date") from None
    if not 2000 <= day.year <= 2100:
        raise InvalidRunInput(f"base_date {base_date!r} is out of range (years 2000-2100)")
    force = payload.get("force", False)
    if not isinstance(force, bool):
        raise InvalidRunInput(f"force must be true or false, got {force!r}")
    campaigns = payload.get("campaigns", [])
    if (
        not isinstance(campaigns, list)
        or not all(isinstance(name, str) and name for name in campaigns)
        or len(set(campaigns)) != len(campaigns)
        or ("campaigns" in payload and not campaigns)
    ):
        raise InvalidRunInput(f"campaigns must be a list of distinct campaign names, got {campaigns!r}")
    return RunRequest(base_date, "manual", force=force, campaigns=tuple(campaigns))


def _only(payload: dict[str, Any], allowed: frozenset[str], *, required: frozenset[str]) -> None:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise InvalidRunInput(f"unknown field(s) in execution input: {unknown}; allowed: {sorted(allowed)}")
    missing = sorted(required - set(payload))
    if missing:
        raise InvalidRunInput(f"missing field(s) in execution input: {missing}")
