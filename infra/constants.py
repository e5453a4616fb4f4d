"""Names and numbers the constructs share.

The names of the Lambdas' environment variables are declared once, for the stack and the Lambdas alike, in
refresh_common.environment.
"""

from pathlib import Path

from aws_cdk import aws_logs as logs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = PROJECT_ROOT / "lambdas"

# The stage events the state machine puts on the default bus: the contract consumers' rules match.
EVENT_SOURCE = "personalize-refresh"
EVENT_DETAIL_TYPE = "Personalize Refresh Stage Change"

# The freshness check's metrics (lambdas/check_freshness.py publishes them under these names).
METRIC_NAMESPACE = "PersonalizeRefresh"
DAYS_SINCE_REFRESH = "DaysSinceLastRefresh"
DAYS_SINCE_RUN = "DaysSinceLastRun"
PHASE_DURATION = "PhaseDuration"
CAMPAIGN_DIMENSION = "Campaign"
PHASE_DIMENSION = "Phase"
FRESHNESS_CHECK_RATE = 3600  # seconds between two freshness checks

LAMBDA_MEMORY = 256  # MB
LAMBDA_TIMEOUT = 60  # seconds; the state machine's Lambda tasks time out at 120
EVENT_MAX_AGE = 24 * 3600  # seconds an unstarted refresh event is retried before it goes to the DLQ
EVENT_RETRY_ATTEMPTS = 8
DLQ_RETENTION = 14 * 24 * 3600  # seconds
# The run function's asynchronous invocations (an execution's close, the hourly sweep): Lambda runs one that
# raised twice more (a minute, then two minutes later) and keeps an unstarted one up to 6 hours (throttled),
# then sends its record to the on-failure destination. Lambda's defaults, written out: both are its maximums.
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = 6 * 3600  # seconds

# Retention periods the configuration offers (log_retention_days), as CloudWatch Logs enum members.
LOG_RETENTION = {
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}
