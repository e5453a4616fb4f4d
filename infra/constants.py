"""Names and numbers the constructs share.

The environment variable names are the ones `lambdas/refresh_common/settings.py` reads.
"""

from pathlib import Path

from aws_cdk import aws_logs as logs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = PROJECT_ROOT / "lambdas"
DEFINITION_FILE = PROJECT_ROOT / "statemachine" / "refresh.asl.json"

SETTINGS_VARIABLE = "REFRESH_SETTINGS"
TABLE_VARIABLE = "RUN_TABLE_NAME"
ALERT_TOPIC_VARIABLE = "ALERT_TOPIC_ARN"

# The stage events the state machine puts on the default bus: the contract consumers' rules match.
EVENT_SOURCE = "personalize-refresh"
EVENT_DETAIL_TYPE = "Personalize Refresh Stage Change"

# The freshness check's metrics (lambdas/check_freshness.py publishes them under these names).
METRIC_NAMESPACE = "PersonalizeRefresh"
FRESHNESS_SETTINGS_VARIABLE = "FRESHNESS_SETTINGS"
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

# Retention periods the configuration offers (log_retention_days), as CloudWatch Logs enum members.
LOG_RETENTION = {
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}
