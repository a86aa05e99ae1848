# edp.platform - the two commands users need are `make local` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# pytest workers for `make test`: 2 puts the local platform's tests on one worker and the other
# tiers on the other (the machines have two cores); 0 runs everything in one process.
TEST_WORKERS ?= 2
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-test.txt | sha256sum | cut -c1-12)
INVENTORY ?= inventories/local
# More ansible-playbook options for `make local` and `make render`, e.g.
#   ARGS="--ask-vault-pass -e @vault.yml -e postgres_port=5433"
# (ANSIBLE_VAULT_PASSWORD_FILE in the environment works too).
ARGS ?=
# Render mode's output: <RENDER_DIR>/<environment>/manifests|secrets/<tenant>/ (see README).
RENDER_DIR ?= build/render
# awx.awx is not in ansible 14 (Galaxy only); the lint of awx/ takes it from ansible 12.3.0's
# archive on PyPI, into a folder that never reaches the execution environment.
AWX_COLLECTION := build/test-collections/ansible_collections/awx/awx

.PHONY: help venv local status stop start teardown test lint render bench build docs clean network-policy-docs

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): requirements.txt requirements-test.txt
	@test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	@rm -f $(VENV)/.installed-*; touch $@

$(AWX_COLLECTION): | $(STAMP)
	rm -rf build/awx-wheel && $(PY) -m pip download --quiet --disable-pip-version-check --no-deps \
	  -d build/awx-wheel ansible==12.3.0
	$(PY) -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
	  [z.extract(n, 'build/test-collections') for n in z.namelist() if n.startswith('ansible_collections/awx/awx/')]" \
	  build/awx-wheel/ansible-12.3.0-py3-none-any.whl
	rm -rf build/awx-wheel

venv: $(STAMP)  ## create .venv with the pinned tools

local: $(STAMP)  ## bring the platform up on this machine (the local target)
	$(VENV)/bin/ansible-playbook site.yml -i $(INVENTORY) $(ARGS)

status: $(STAMP)  ## how each component of the local platform is (fails when one is down)
	$(VENV)/bin/ansible-playbook playbooks/status.yml -i $(INVENTORY) $(ARGS)

stop: $(STAMP)  ## stop every process of the local platform; the data stays
	$(VENV)/bin/ansible-playbook playbooks/stop.yml -i $(INVENTORY) $(ARGS)

start: $(STAMP)  ## start the local platform again (after make stop or a reboot)
	$(VENV)/bin/ansible-playbook playbooks/start.yml -i $(INVENTORY) $(ARGS)

teardown: $(STAMP)  ## remove the local platform, data included after a yes (ARGS="-e teardown_keep_data=true" keeps it)
	$(VENV)/bin/ansible-playbook playbooks/teardown.yml -i $(INVENTORY) $(ARGS)

test: $(STAMP) $(AWX_COLLECTION)  ## every test tier: static, unit, emulator, render, converge, molecule
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=25

lint: $(STAMP) $(AWX_COLLECTION)  ## only the static checks
	$(PY) -m pytest tests/static

render: $(STAMP)  ## write INVENTORY's objects below RENDER_DIR as a GitOps export (Secrets apart, 0600)
	$(VENV)/bin/ansible-playbook site.yml -i $(INVENTORY) -e edp_render_dir=$(abspath $(RENDER_DIR)) $(ARGS)

bench: $(STAMP)  ## converge timings against the emulator beside kubectl (prints figures)
	$(PY) bench/converge.py

build: $(STAMP)  ## the collection tarball
	$(VENV)/bin/ansible-galaxy collection build --force --output-path build .

docs: $(STAMP)  ## regenerate the role README tables (argument specs; <role>_k8s_templates and the templates' headers)
	$(PY) scripts/role_docs.py

network-policy-docs: $(STAMP)  ## redraw docs/network-policy.svg from network-config-analyzer's analysis (graphviz)
	$(PY) scripts/network_policy_analysis.py

clean:
	rm -rf build render tests/output .pytest_cache
