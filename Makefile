# StationEdge — `make run` starts a simulated station, `make test` runs every test.
# Both set up what they need on first use (see scripts/bootstrap.sh).

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp-installed

.PHONY: run test lint bench clean setup

$(STAMP): pyproject.toml scripts/bootstrap.sh
	VENV=$(VENV) ./scripts/bootstrap.sh
	touch $@

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/station-edge run --sim

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q -ra

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
