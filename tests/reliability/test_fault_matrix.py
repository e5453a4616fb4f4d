"""The fault matrix: every fault of the catalog, run on the local engine, ends as its case says.

A fault whose behaviour waits for a feature is a strict expected failure: when the feature lands the
test fails until the case's `needs` is removed (and docs/RELIABILITY.md regenerated)."""

from __future__ import annotations

import pytest
from botocore.session import get_session

from reliability.catalog import FAULTS, Fault
from reliability.faults import ApiError, ImportJobAlreadyThere, JobFails, VersionAlreadyThere
from reliability.matrix import Environment
from reliability.outcomes import Observation, differences, expected_facts, observed_facts

# Every Personalize call the pipeline makes, and the errors of its model that can happen to it.
CALLS_AND_ERRORS = {
    "CreateDatasetImportJob": {
        "LimitExceededException",
        "ResourceInUseException",
        "ResourceNotFoundException",
        "InvalidInputException",
        "ResourceAlreadyExistsException",
    },
    "DescribeDatasetImportJob": {"ResourceNotFoundException"},
    "CreateSolutionVersion": {
        "LimitExceededException",
        "ResourceInUseException",
        "ResourceNotFoundException",
        "InvalidInputException",
        "ResourceAlreadyExistsException",
    },
    "ListSolutionVersions": {"ResourceNotFoundException"},
    "DescribeSolutionVersion": {"ResourceNotFoundException"},
    "DescribeCampaign": {"ResourceNotFoundException"},
    "UpdateCampaign": {"ResourceInUseException", "ResourceNotFoundException", "InvalidInputException"},
}
UNDEFINED_TRANSIENT = {"ThrottlingException", "InternalFailure"}


def _case(fault: Fault) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=f"needs: {fault.needs}")] if fault.needs else []
    return pytest.param(fault, id=fault.id, marks=marks)


@pytest.mark.parametrize("fault", [_case(fault) for fault in FAULTS])
def test_fault_ends_as_expected(
    fault: Fault, observations: dict[str, Observation], environments: dict[str, Environment]
) -> None:
    config = environments[fault.config].config
    campaigns = [campaign.name for campaign in config.campaigns]
    observation = observations[fault.id]

    diff = differences(
        expected_facts(fault.expected, campaigns, len(config.datasets)),
        observed_facts(observation, fault.expected, campaigns),
    )

    assert not diff, "\n".join(
        [f"{fault.id}: {fault.title}"]
        + [f"  {aspect}: expected {wanted!r}, observed {seen!r}" for aspect, wanted, seen in diff]
        + [f"  records: {observation.records}", f"  alerts: {observation.alerts}", f"  asked: {observation.asked}"]
    )


def test_every_personalize_call_meets_each_of_its_errors_and_an_undefined_throttle_or_5xx() -> None:
    model = get_session().get_service_model("personalize")
    injected: dict[str, set[str]] = {}
    for fault in FAULTS:
        for injection in fault.injections:
            if isinstance(injection, ApiError):
                injected.setdefault(injection.operation, set()).add(injection.code)
            if isinstance(injection, ImportJobAlreadyThere):
                injected.setdefault("CreateDatasetImportJob", set()).add("ResourceAlreadyExistsException")
            if isinstance(injection, VersionAlreadyThere):
                injected.setdefault("CreateSolutionVersion", set()).add("ResourceAlreadyExistsException")

    for operation, errors in CALLS_AND_ERRORS.items():
        assert errors <= {shape.name for shape in model.operation_model(operation).error_shapes}
        assert errors <= injected.get(operation, set()), f"{operation} lacks {errors - injected.get(operation, set())}"
        assert injected[operation] & UNDEFINED_TRANSIENT, f"{operation} never meets a throttle or a 5xx"


def test_each_phase_job_fails_with_and_without_a_reason() -> None:
    failures = {
        (injection.kind, injection.reason is None)
        for fault in FAULTS
        for injection in fault.injections
        if isinstance(injection, JobFails) and injection.campaign is None
    }

    assert failures == {(kind, silent) for kind in ("import", "training", "deployment") for silent in (True, False)}


def test_the_catalog_holds_at_least_thirty_distinct_faults() -> None:
    ids = [fault.id for fault in FAULTS]

    assert len(ids) >= 30
    assert len(set(ids)) == len(ids)
