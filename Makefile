# Two commands on a fresh machine: `make demo` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint unit install-check deps system-deps clean bench docs

# Says what it does (and that it is still at it) while pip installs; pip's log: $(VENV)/pip-install.log
$(BIN)/.installed: pyproject.toml
	@PYTHON=$(PYTHON) VENV=$(VENV) scripts/install.sh
	@touch $@

deps: $(BIN)/.installed system-deps

# packer and etcd are real parts of infra and of its tests; install them where missing.
system-deps:
	@scripts/system-deps.sh

# ruff, mypy and the layers (import-linter's contracts), configured in pyproject.toml, and no private
# name read across modules; `make test` runs them first.
lint: $(BIN)/.installed
	$(BIN)/ruff check infra tests benchmarks scripts
	$(BIN)/mypy infra
	$(BIN)/lint-imports
	$(BIN)/python scripts/private_names.py infra

test: deps lint
	$(BIN)/pytest -q

unit: $(BIN)/.installed
	$(BIN)/pytest -q tests/unit

# Part of `make test` too: pip-install the package without extras into a fresh virtualenv and run infra from it.
install-check: $(BIN)/.installed
	$(BIN)/pytest -q tests/test_install.py

demo: deps
	scripts/demo.sh

# plan/apply at scale on a local moto, with a fake packer: needs only the venv; rewrites docs/performance.md
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/plan_scale.py

docs: $(BIN)/.installed
	$(BIN)/python scripts/command_reference.py > docs/commands.md

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
