"""The names of the environment variables the stack gives the Lambdas: the CDK app sets them (infra/), the Lambdas
read them (settings.load_settings, the freshness check's load_settings). Declared here, once, for both sides."""

# The task Lambdas' settings, JSON as settings.settings_document writes it.
SETTINGS_VARIABLE = "REFRESH_SETTINGS"
# The run table's name, for every function that reads or writes run records.
TABLE_VARIABLE = "RUN_TABLE_NAME"
# The alert topic, for the one function that alerts itself (the one that claims, imports and closes runs).
ALERT_TOPIC_VARIABLE = "ALERT_TOPIC_ARN"
# The freshness check's settings, JSON: its metric namespace, the campaigns it watches, when one is stale.
FRESHNESS_SETTINGS_VARIABLE = "FRESHNESS_SETTINGS"
