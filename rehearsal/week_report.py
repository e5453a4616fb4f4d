"""What the week's rehearsal prints: the policy, one line per day, the week's training hours against FULL
every day with the durations assumed, the stage events' story, and whether it all agrees."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from refresh_common import schema

from .report import aligned, counted
from .timeline import duration, short_version
from .week import (
    DAYS,
    DEPLOYMENT,
    FULL_TRAINING,
    GATE_METRIC,
    GATE_METRIC_SHORT,
    IMPORT,
    MAX_DROP_PERCENT,
    SERVED_SCORE,
    UNCHANGED_DAY,
    UPDATE_TRAINING,
    USER_PERSONALIZATION,
    WORSE_DAY,
    WORSE_SCORE,
    Day,
    Week,
)


def render_week(week: Week, *, records: bool = False) -> str:
    out = [*_title(week), "", *_days(week), "", *_hours(week), "", *_stage_events(week), *_verdict(week)]
    out += _serving(week)
    if records:
        out += ["", "Run records, as stored in DynamoDB"]
        out += [json.dumps(record, indent=2, sort_keys=True) for record in week.run_records]
    more = "" if records else " More detail: --records (see --help)."
    out += [
        "",
        f"Rehearsed {_span(week.simulated)} of simulated time in {week.wall_seconds:.1f} s "
        f"(synth {week.synth_seconds:.1f} s).{more}",
    ]
    return "\n".join(out)


def _title(week: Week) -> list[str]:
    config = week.config
    recipe = USER_PERSONALIZATION.rsplit("/", 1)[-1]
    started = week.started.astimezone(ZoneInfo(config.time_zone)) if week.started else None
    at = f" at {started:%H:%M} {config.time_zone}" if started else ""
    return [
        f"Rehearsal of a week in account {config.account}, {config.region}: "
        f"{counted(len(config.datasets), 'dataset')}, {counted(len(config.campaigns), 'campaign')}",
        f"Policy applied to every campaign: UPDATE daily, FULL every {DAYS} days, on the {recipe} recipe",
        f"  (UPDATE needs it); quality gate on {GATE_METRIC_SHORT} ({GATE_METRIC}):",
        f"  at most {MAX_DROP_PERCENT} % under the served version (or, when it reports no metrics, the FULL "
        "version it was built on);",
        "  a version without metrics (an UPDATE one) is deployed.",
        f"Before day 1 each campaign serves a FULL version trained the day before ({GATE_METRIC_SHORT} "
        f"{SERVED_SCORE:.4f}).",
        f"One Glue success event a day{at}; day {UNCHANGED_DAY}'s data is byte-identical to day "
        f"{UNCHANGED_DAY - 1}'s; day {WORSE_DAY}'s",
        f"  new version scores {WORSE_SCORE:.4f} (the scores are set by the rehearsal).",
    ]


def _days(week: Week) -> list[str]:
    several = len(week.config.campaigns) > 1
    rows: list[Sequence[str]] = [
        (
            "day",
            "date",
            *(("campaign",) if several else ()),
            "decision",
            "training",
            "hours",
            "new",
            "held to",
            "deployed",
        )
    ]
    for day in week.days:
        rows.append(
            (
                str(day.number),
                f"{datetime.strptime(day.base_date, '%Y%m%d'):%a %Y-%m-%d}",
                *((day.campaign,) if several else ()),
                day.decision,
                day.training_mode or "none",
                f"{day.training_hours:g}" if day.training_mode else "-",
                *_scores(day),
                _deployed(day),
            )
        )
    lines = [
        f"Each day ({GATE_METRIC_SHORT}: of the new version, and of the one the gate held it to: the served",
        "  version, or the FULL version an UPDATE one was built on; hours: as Personalize reports them)",
    ]
    lines += aligned(rows, right_aligned=(0, 4 + several))
    return lines


def _scores(day: Day) -> tuple[str, str]:
    if day.decision == "skipped":
        return "-", "-"
    new = day.metrics.get(GATE_METRIC)
    served = day.serving_metrics.get(GATE_METRIC)
    new_text = f"{new:.4f}" if new is not None else f"no metrics ({day.training_mode})"
    return new_text, f"{served:.4f}" if served is not None else "no metrics"


def _deployed(day: Day) -> str:
    if day.deployed:
        return "yes"
    if day.decision == "skipped":
        return f"no: data unchanged since day {day.number - 1}" if day.number == UNCHANGED_DAY else "no: " + day.reason
    if day.decision == "gated":
        return f"no: held back, {day.reason.removeprefix(GATE_METRIC + ' ')}"
    return "no"


def _hours(week: Week) -> list[str]:
    modes = Counter(day.training_mode for day in week.trainings)
    skipped = sum(1 for day in week.days if day.decision == "skipped")
    full, update = _h(FULL_TRAINING), _h(UPDATE_TRAINING)
    parts = [f"{mode} {modes[mode]} × {hours:g} h" for mode, hours in (("FULL", full), ("UPDATE", update))]
    share = week.training_hours / week.full_every_day_hours if week.full_every_day_hours else 0
    every_day = f"{DAYS} × {full:g} h" + (f" × {week.solutions} solutions" if week.solutions > 1 else "")
    return [
        f"Training: {week.training_hours:g} h in the week ({', '.join(parts)}; {counted(skipped, 'day')} skipped)\n  "
        f"against {week.full_every_day_hours:g} h with FULL every day ({every_day}): {share * 100:.0f} % of it.",
        f"  Durations assumed: FULL {full:g} h, UPDATE {update:g} h (import {_h(IMPORT):g} h, deployment "
        f"{_h(DEPLOYMENT) * 60:g} min): the emulator's assumptions, not measurements.",
    ]


def _stage_events(week: Week) -> list[str]:
    events = week.stage_events
    campaigns = [e for e in events if e.get("campaign_name")]
    ends = Counter(e["status"] for e in campaigns if e["phase"] == schema.DONE)
    trainings = Counter(
        e["decision"] for e in campaigns if e["phase"] == schema.TRAINING and e["decision"] != "continue"
    )
    gates = Counter(e["decision"] for e in campaigns if e["phase"] == schema.DEPLOYMENT and e["decision"] != "continue")
    runs = Counter(e["status"] for e in events if not e.get("campaign_name") and e["phase"] == schema.DONE)
    return [
        f"Stage events: {len(events)} put in the week. Campaigns ended {_counts(ends)};",
        f"  trained {_counts(trainings)}; the gate decided {_counts(gates)}; each day's run ended {_counts(runs)}.",
    ]


def _verdict(week: Week) -> list[str]:
    if not week.problems:
        return ["As the week expects: the run records, the stage events and Personalize agree with every line above."]
    return ["NOT as the week expects:", *(f"  - {problem}" for problem in week.problems)]


def _serving(week: Week) -> list[str]:
    lines = []
    for campaign, serving in week.serving.items():
        days = [day for day in week.days if day.campaign == campaign]
        served_by = next((d for d in reversed(days) if d.record.get("deployed_solution_version_arn") == serving), None)
        since = f" ({_day_version(served_by)})" if served_by else ""
        held = [f"{_day_version(d)} {short_version(_version(d))}" for d in days if d.decision == "gated"]
        kept = f";\n  held back: {', '.join(held)}" if held else ""
        lines.append(f"{campaign} serves {short_version(serving)} at the end of the week{since}{kept}.")
    return lines


def _day_version(day: Day) -> str:
    return f"day {day.number}'s {day.training_mode} version"


def _version(day: Day) -> str:
    return str(day.record.get("solution_version_arn", ""))


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items())) or "none"


def _span(delta: timedelta) -> str:
    return f"{counted(delta.days, 'day')} {duration(timedelta(seconds=delta.seconds))}"


def _h(delta: timedelta) -> float:
    return delta.total_seconds() / 3600
