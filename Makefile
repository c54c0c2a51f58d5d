# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
# The tools cache (its one definition: plugin/wandb_launch/toolcache.py).
CACHE := $(shell python3 plugin/wandb_launch/toolcache.py)
export PATH := $(CACHE)/bin:$(PATH)
PYTEST_ARGS ?=

.PHONY: demo test setup tools control-plane agent-venv venv bench mutate mutate-templates mutate-python

# The set-up steps are independent: run them side by side (the Go builds are CPU-bound,
# the pip installs mostly wait on the network).
setup:
	$(MAKE) -j4 --output-sync=target venv tools control-plane agent-venv

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

# helm, ct, checkov, yamllint, yamale: built or installed once into $(CACHE).
tools:
	hack/install-tools.sh >/dev/null

# kube-apiserver, kube-controller-manager, kube-scheduler, etcd and KWOK, built once into $(CACHE).
control-plane:
	hack/build-control-plane.sh >/dev/null

# The launch agent's own Python environment (wandb[launch] at the chart's appVersion), which
# the agent-in-the-loop tests run as the agent pod; built once into $(CACHE).
agent-venv:
	hack/build-agent-venv.sh >/dev/null

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/wandb-launch demo

bench: setup
	$(VENV)/bin/python -m benchmarks

# Mutation testing (docs/testing.md): how many one-change breakages of chart/templates and of
# plugin/wandb_launch the offline suite catches. Not part of `make test` (tens of minutes).
# Flags: MUTATE_ARGS for the templates (e.g. --sample 200 --seed 12), MUTATE_PY_ARGS for mutmut.
MUTATE_ARGS ?=
MUTATE_PY_ARGS ?=
mutate: mutate-templates mutate-python

mutate-templates: setup $(VENV)/.mutate-installed
	nice -n 10 $(VENV)/bin/python -m mutation templates $(MUTATE_ARGS)

mutate-python: setup $(VENV)/.mutate-installed
	nice -n 10 $(VENV)/bin/python -m mutation python $(MUTATE_PY_ARGS)

$(VENV)/.mutate-installed: $(VENV)/.installed
	$(VENV)/bin/pip install -q -e '.[test,mutate]'
	touch $@
