# Everything a user or CI runs. `make demo` and `make test` set up from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# checkov conflicts with our pins (boto3, networkx, packaging): it lives in its own environment
TOOLS_VENV := .venv-tools
CDK := node_modules/.bin/cdk --no-notices
STAGE ?= dev
# WORKFLOW=name[,name]: only those workflows' stacks. CONTEXT: extra `-c KEY=VALUE` settings. PROFILE: an AWS CLI profile.
WORKFLOW ?=
CONTEXT ?=
PROFILE ?=
comma := ,
SELECT = $(if $(WORKFLOW),-c workflow=$(WORKFLOW))
AWS_OPTS = $(if $(PROFILE),--profile $(PROFILE))

# jsii warns loudly on Node 20 (end of life); the CLI and synth work on it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: setup demo test check check-forks synth bench browser lint deploy bootstrap fork snapshots lock clean

setup: $(VENV)/.installed $(TOOLS_VENV)/.installed

# pip and npm run quiet (their own progress is pages of lines): one line says what is being waited for.
$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt package.json package-lock.json
	@echo "setup: Python packages into $(VENV) (pip, a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@echo "setup: the CDK CLI and mermaid into node_modules (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error >/dev/null  # its "added N packages" line; errors go to stderr
	touch $@

$(TOOLS_VENV)/.installed: requirements-tools.txt
	@echo "setup: checkov into $(TOOLS_VENV) (pip)"
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

demo: setup  ## synthesize, deploy into the embedded emulator, run every workflow
	$(PY) -m sandbox demo

test: setup  ## the whole suite, offline (two worker processes: sandbox runs mostly wait); includes make check
	$(PY) -m pytest -n 2 --dist load

check-forks: setup  ## every workflow forked in a temporary copy (its tests pass), and one exported standalone (its make test passes)
	$(PY) -m pytest -p no:xdist tests/forks --forks all

check: setup  ## the reliability suite: property checks, cfn-lint + serverless rules, checkov, asl-validator, every stage; the fault matrix
	$(PY) -m pytest -n 2 --dist load tests/reliability tests/workflows/test_fault_matrix.py

synth: setup  ## templates into cdk.out/ (STAGE=local|dev|prod|yours, WORKFLOW=name to pick one)
	$(CDK) synth --quiet -c stage=$(STAGE) $(SELECT) $(CONTEXT)

bench: setup browser  ## prints synth, payload, request and import-time figures against sandbox/benches/goals.py; opens the diagram pages in Chromium
	$(PY) -m sandbox.bench

browser:  ## Debian's Chromium for the diagram-page check in make bench (apt-get, as root, only when missing)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: synth
	$(VENV)/bin/cfn-lint --config-file .cfnlintrc.yaml cdk.out/*.template.json

deploy: setup  ## to your AWS account: STAGE=dev|prod|yours [WORKFLOW=name] [PROFILE=p] [CONTEXT='-c k=v']
	$(PY) -m stacks.preflight $(STAGE) $(subst $(comma), ,$(WORKFLOW)) $(CONTEXT)  # offline: placeholders, secrets to create
	$(CDK) deploy --all -c stage=$(STAGE) $(SELECT) $(CONTEXT) $(AWS_OPTS)

bootstrap: setup  ## once per account and region: the CDK's asset bucket and roles (PROFILE=p, region from it or AWS_REGION)
	$(CDK) bootstrap $(AWS_OPTS)

fork: setup  ## FROM=workflow TO=new-name [INTO=dir]: a new workflow from an existing one (INTO: a standalone project)
	$(PY) -m sandbox fork $(FROM) $(TO) $(if $(INTO),--into $(INTO))

snapshots: setup  ## accept template changes after reviewing the snapshot diff
	$(PY) -m pytest tests/templates/test_snapshots.py --snapshot-update

lock: setup  ## re-pin every transitive dependency after changing requirements*.txt
	$(PY) -m pip freeze --exclude-editable | sed 's/^aws_lambda_powertools/aws-lambda-powertools/' > constraints.txt.new
	(echo "# Every package of the dev environment, pinned (pip install -c constraints.txt). Regenerate with make lock."; cat constraints.txt.new) > constraints.txt && rm constraints.txt.new

clean:
	rm -rf cdk.out .sandbox .cache
