# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-quick lint clean assets browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	-$(BIN)/python -m serviceprofit.demo.assets
	touch $(STAMP)

# Solara's front-end files, from the npm registry into the venv's Solara cache: the demo
# page and its browser test need them on a closed network (idempotent, ~1 s when present).
assets: $(STAMP)
	$(BIN)/python -m serviceprofit.demo.assets

# Debian's Chromium for the browser tests (playwright must never download a browser).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq chromium; \
	else \
		echo "browser tests will be skipped: install Chromium (Debian: sudo apt-get install chromium)"; \
	fi

# The headline comparison: cost-minimised vs customer-value process, silo vs merged
# organisation; 20 paired replicates each on the default backend (auto: numba), about a
# minute on 2 cores. BACKEND=mesa REPLICATES=8 runs the agent-based backend (minutes).
REPLICATES ?= 20
BACKEND ?= auto
HEADLINE := results/headline

run: $(STAMP)
	$(BIN)/serviceprofit compare scenarios/customer_value.yaml scenarios/cost_minimised.yaml \
		--replicates $(REPLICATES) --backend $(BACKEND) --out $(HEADLINE)/process
	$(BIN)/serviceprofit compare scenarios/silo.yaml scenarios/merged.yaml \
		--replicates $(REPLICATES) --backend $(BACKEND) --out $(HEADLINE)/organisation
	@echo "reports: $(HEADLINE)/process/report.html $(HEADLINE)/organisation/report.html"

test: $(STAMP) assets browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q --durations=15

test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) results build src/*.egg-info
