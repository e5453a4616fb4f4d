"""Exceptions whose class names are the error names the state machine's Retry and Catch match."""


class InvalidRunInput(ValueError):
    """The execution input is not a Glue success event nor a manual start; nothing was written."""


class InvalidSettings(RuntimeError):
    """The function's settings are not valid (the settings file of its code package, or its environment): a
    deployment problem."""


class NameAttemptsExhausted(RuntimeError):
    """Every deterministic job name for this base date is taken by a failed job."""


class RunNotOwned(RuntimeError):
    """The run record belongs to another execution; this one must not write it."""


class PersonalizeUnavailable(RuntimeError):
    """Personalize throttled or failed (5xx) on every attempt the SDK made; the state machine backs off
    in minutes and calls again. Safe to repeat: every create uses a deterministic name."""


class RunRecordBusy(RuntimeError):
    """The claim's transaction was cancelled by a conflict or a throttle, not by another claim; the state
    machine retries the claim."""


class QualityGateMisconfigured(ValueError):
    """The quality gate names a metric the solution's versions do not report (names differ by recipe)."""


class AutomationConflict(RuntimeError):
    """Personalize's own automation is on for a campaign (automatic training, or a campaign that follows
    its solution's latest version) and the configuration says to refuse to run beside it."""


class ImportRefused(ValueError):
    """What the data location holds cannot be imported as configured (empty, or over a size limit)."""


class CampaignConfigUnsupported(RuntimeError):
    """The SDK the function runs with does not know every CampaignConfig field: it drops those it lacks from
    DescribeCampaign, and an UpdateCampaign carrying the config over would reset them."""


class ImportRoomExhausted(RuntimeError):
    """Personalize already runs as many dataset import jobs as its quota allows in the region (5 by default):
    the dataset's import execution retries, backing off, until one ends; the wait is in its history."""
