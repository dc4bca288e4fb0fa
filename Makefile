# Everything a user or CI runs. `make demo` and `make test` set up from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk --no-notices
STAGE ?= dev

# jsii warns loudly on Node 20 (end of life); the CLI and synth work on it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: setup demo test synth bench browser lint deploy snapshots lock clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup  ## synthesize, deploy into the embedded emulator, run every workflow
	$(PY) -m sandbox demo

test: setup  ## the whole suite, offline (two worker processes: sandbox runs mostly wait)
	$(PY) -m pytest -n 2 --dist load

synth: setup  ## every stack's template into cdk.out/ (STAGE=local|dev|prod)
	$(CDK) synth --quiet -c stage=$(STAGE)

bench: setup browser  ## prints synth, payload, request and import-time figures against sandbox/benches/goals.py; opens the diagram pages in Chromium
	$(PY) -m sandbox.bench

browser:  ## Debian's Chromium for the diagram-page check in make bench (apt-get, as root, only when missing)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: synth
	$(VENV)/bin/cfn-lint --config-file .cfnlintrc.yaml cdk.out/*.template.json

deploy: setup  ## to your AWS account: STAGE=dev|prod, credentials from your environment
	$(PY) -m stacks.preflight $(STAGE)  # refuses placeholder settings, lists the secrets to create (offline)
	$(CDK) deploy --all -c stage=$(STAGE)

snapshots: setup  ## accept template changes after reviewing the snapshot diff
	$(PY) -m pytest tests/templates/test_snapshots.py --snapshot-update

lock: setup  ## re-pin every transitive dependency after changing requirements*.txt
	$(PY) -m pip freeze --exclude-editable | sed 's/^aws_lambda_powertools/aws-lambda-powertools/' > constraints.txt.new
	(echo "# Every package of the dev environment, pinned (pip install -c constraints.txt). Regenerate with make lock."; cat constraints.txt.new) > constraints.txt && rm constraints.txt.new

clean:
	rm -rf cdk.out .sandbox .cache
