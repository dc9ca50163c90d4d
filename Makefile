# Two commands: `make app` (the dashboard on the demo data) and `make test` (every test).
# Both create .venv from pyproject.toml on first use (and compile numba's loops); nothing else to
# install by hand.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DB     ?= $(or $(PREFDISSECT_DB),data/preference.duckdb)
PORT   ?= 8501
# `make app ADDRESS=0.0.0.0` serves other machines too
ADDRESS ?= 127.0.0.1

.PHONY: app test test-fast demo bench browser-deps postgres-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# numba's loops of a load compiled into its disk cache before the first load
# (`pipeline/ingest/compiled.py`), and again when one of their modules changes
COMPILED := pipeline/ingest/compiled.py pipeline/ingest/line_guard.py pipeline/properties/ascii_counts.py \
            $(addprefix pipeline/ingest/formats/,line_scan.py list_scan.py csv_scan.py)
$(VENV)/.compiled: $(VENV)/.installed $(COMPILED)
	$(PY) -m pipeline.ingest.compiled
	touch $@

# The dashboard; builds the demo database first when there is none.
app: $(VENV)/.compiled
	@test -f "$(DB)" || $(PY) -m pipeline demo --db "$(DB)"
	PREFDISSECT_DB="$(DB)" $(VENV)/bin/streamlit run Home.py --server.port $(PORT) --server.address $(ADDRESS)

# Every test, on both cores.
test: $(VENV)/.compiled
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q

# While developing: everything but the tests marked slow (CI runs `make test`).
test-fast: $(VENV)/.compiled
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q -m "not slow"

demo: $(VENV)/.compiled
	$(PY) -m pipeline demo --db "$(DB)"

# Headless Chromium for the browser test (Debian's package; needs root).
browser-deps:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# PostgreSQL's server for the lake tests (Debian's package; needs root). The tests start a
# throwaway cluster of their own (.ci/pg_cluster); without the server they are skipped.
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)

bench: $(VENV)/.compiled
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
