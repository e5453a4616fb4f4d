"""What the stack gives the Lambdas besides their code, named once for both sides: the CDK app writes them
(infra/), the Lambdas read them (settings.load_settings, the freshness check's load_settings).

The settings are files in the functions' code package, not environment variables: Lambda holds at most 4 KB of
environment variables per function, and the task settings alone outgrow that at a few datasets and campaigns
(infra/lambda_code.py says why the code package is the place). The environment keeps what only CloudFormation
knows, the physical names of the stack's own resources.
"""

# The task Lambdas' settings, JSON as settings.settings_document writes it, at the root of the code package.
SETTINGS_FILE = "refresh_settings.json"
# The freshness check's settings, JSON: its metric namespace, the campaigns it watches, when one is stale.
FRESHNESS_SETTINGS_FILE = "freshness_settings.json"
# Where the Lambda runtime unpacks the function's code package (it sets this variable in every function).
TASK_ROOT_VARIABLE = "LAMBDA_TASK_ROOT"
# The run table's name, for every function that reads or writes run records.
TABLE_VARIABLE = "RUN_TABLE_NAME"
# The alert topic, for the one function that alerts itself (the one that claims, imports and closes runs).
ALERT_TOPIC_VARIABLE = "ALERT_TOPIC_ARN"
