# Two commands on a fresh machine (each installs what it needs into .venv):
#   make demo   run the whole suite against the embedded demo installation and write reports/
#   make test   run the project's own tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean policy

$(STAMP): pyproject.toml
	@echo "installing the suite and its dependencies into $(VENV) (first run only: a few minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The demo is meant to show findings: exit 1 (some FAIL) or 6 (only ERRORs) still means the run completed.
demo: $(STAMP)
	@$(BIN)/pytest --dr-demo --dr-reports reports -q -p no:warnings; rc=$$?; \
	if [ $$rc -le 1 ] || [ $$rc -eq 6 ]; then echo "demo run complete: reports/dr-report.html, reports/dr-results.json, reports/dr-junit.xml"; exit 0; \
	else echo "the suite itself failed (pytest exit $$rc)"; exit $$rc; fi

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest tests -n auto --dist loadfile

# The published least-privilege IAM policies, generated from the read-only allowlist.
policy: $(STAMP)
	$(BIN)/python -m spacelift_dr.policy > policy/dr-suite-readonly.json
	$(BIN)/python -m spacelift_dr.policy rsa-secret > policy/dr-suite-read-rsa-secret.json
	$(BIN)/python -m spacelift_dr.policy kubernetes > policy/dr-suite-kubernetes-rbac.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) reports/*.html reports/*.json reports/*.xml
