# The README's two commands: `make demo` rehearses a refresh locally, `make test` runs the tests.
# Each sets up what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export AWS_DEFAULT_REGION ?= ap-northeast-2

.PHONY: demo test lint synth clean soak reliability-report bench definition diagram config-reference samples

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

demo: $(STAMP)
	$(BIN)/python -m rehearsal $(ARGS)

# The tests run in PYTEST_WORKERS processes, a test file to each at a time (its module fixtures are shared).
PYTEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile
	bash scripts/security_scan.sh

# make synth CONFIG=config/my-shop.json STACK_NAME=...: what `cdk synth -c config=... -c stack_name=...` synthesizes.
CONFIG ?= config/example.json
STACK_NAME ?= PersonalizeRefresh

# The two are handed over in the environment and made into JSON by Python, so a path holding a quote stays a path.
synth: export SYNTH_CONFIG = $(CONFIG)
synth: export SYNTH_STACK_NAME = $(STACK_NAME)
synth: $(STAMP)
	CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON="$$($(BIN)/python -c 'import json, os; print(json.dumps({"config": os.environ["SYNTH_CONFIG"], "stack_name": os.environ["SYNTH_STACK_NAME"]}))')" $(BIN)/python app.py
	@echo "Template: cdk.out/$(STACK_NAME).template.json"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .venv-checkov cdk.out .pytest_cache .ruff_cache

# The long randomized soak (docs/RELIABILITY.md reports its figures) and that page's generator.
SOAK_EXAMPLES ?= 60

soak: $(STAMP)
	$(BIN)/python -m reliability.soak --examples $(SOAK_EXAMPLES) --record
	$(BIN)/python -m reliability.report

reliability-report: $(STAMP)
	$(BIN)/python -m reliability.report

# The polling policies side by side (docs/PERFORMANCE.md, "Polling policies"): prints the table, writes that
# section and its plot.
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# statemachine/*.asl.json (the refresh and the import and campaign executions it starts), from their builder in
# infra/workflow (a unit test fails when one is out of date).
definition: $(STAMP)
	$(BIN)/python -m infra.workflow

# The reference pages generated from the code (a unit test fails when one is out of date): the state machine's
# pictures, docs/STATE_MACHINE.md, from the three definitions.
diagram: $(STAMP)
	$(BIN)/python -m docs_tools.state_machine_diagram

# The configuration reference, docs/CONFIGURATION.md, from the configuration model in infra/config.py.
config-reference: $(STAMP)
	$(BIN)/python -m docs_tools.configuration_reference

# The samples of command output in README.md and docs/*.md (a docs test fails when one is out of date): runs the
# rehearsals and the operator CLI on the local engine and rewrites the samples that changed.
samples: $(STAMP)
	$(BIN)/python -m docs_tools.samples $(ARGS)
