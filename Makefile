# Two commands set everything up: `make run` and `make test`. Both create .venv on first use.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fuzz install clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $$(scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/motcua run

test: $(STAMP)
	@scripts/ensure-chromium
	$(VENV)/bin/pytest -q

# The long form of the schemathesis test: every role, 300 examples per operation, a fresh seed each time.
fuzz: $(STAMP)
	MOTCUA_FUZZ_EXAMPLES=300 MOTCUA_FUZZ_ROLES=postal,counter,agency,portal,admin MOTCUA_FUZZ_SEED=random \
		$(VENV)/bin/pytest -q -s tests/test_schema_fuzz.py

bench: $(STAMP)
	$(PY) -m bench.bench_mapping
	$(PY) -m bench.bench_identity
	$(PY) -m bench.bench_dispatch
	$(PY) -m bench.bench_callbacks
	$(PY) -m bench.bench_upload
	$(PY) -m bench.bench_sync
	$(PY) -m bench.bench_intake --profile
	$(PY) -m bench.bench_intake --agencies 34
	$(PY) -m bench.bench_tracking --profile

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .data .pytest_cache
