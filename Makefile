# StationEdge — `make run` starts a simulated station, `make test` runs every test.
# Both set up what they need on first use (see scripts/bootstrap.sh).

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp-installed
# pytest-xdist workers. The suite mostly waits (station processes, simulators, a browser,
# clocks scaled for simulation), so more workers than this machine's two cores pay off.
WORKERS ?= 4
# Where PYTHONDONTWRITEBYTECODE is set, every process of the suite (some hundred:
# stations, simulators, CLI commands, pytest's workers rewriting the test modules'
# asserts) would compile the same sources again, about a second of CPU each. The suite
# runs without it, and compiles the project's sources once first, as an install does.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q -ra -n $(WORKERS) \
	--dist loadscope --no-loadscope-reorder --durations=10
COMPILE := $(PY) -m compileall -q -j 0 drivers sensors broadcast sat_phone voice edge county \
	hw-sim tests >/dev/null

.PHONY: run test test-fast lint typecheck pytest bench clean setup

$(STAMP): pyproject.toml scripts/bootstrap.sh
	VENV=$(VENV) ./scripts/bootstrap.sh
	touch $@

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/station-edge run --sim

# Everything, then the total time (the suite's budget is 150 s on two cores). mypy (some
# ten seconds of one core) runs beside pytest, whose processes mostly wait; its report
# follows pytest's.
test: $(STAMP)
	@start=$$(date +%s); status=0; report=$$(mktemp); \
	$(MAKE) --no-print-directory lint || status=$$?; \
	$(MAKE) --no-print-directory typecheck >$$report 2>&1 & typecheck=$$!; \
	$(MAKE) --no-print-directory pytest || status=$$?; \
	wait $$typecheck || status=$$?; cat $$report; rm -f $$report; \
	echo "== make test: $$(( $$(date +%s) - start )) s"; exit $$status

# The inner loop: leaves out the tests marked slow (station processes, browser, fuzzing).
test-fast: $(STAMP)
	@$(COMPILE)
	@start=$$(date +%s); status=0; \
	$(PYTEST) -m "not slow" || status=$$?; \
	echo "== make test-fast: $$(( $$(date +%s) - start )) s"; exit $$status

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP)
	@$(COMPILE)
	$(PYTEST)

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
