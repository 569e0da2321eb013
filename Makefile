# Tocsin: the two commands are `make demo` and `make test`; everything else is a step of those.
SHELL := /bin/bash
export TOCSIN_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tocsin
PY := $(CURDIR)/.venv/bin/python
export PYTHONPATH := $(CURDIR)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup model kafka kafka-stop demo test lint test-unit test-integration test-e2e test-faults test-rules grafana-schema

setup:  ## Python environment (cached venv) + Kafka jars (cached) + Debian packages the tests need
	bash deploy/setup-system.sh
	bash deploy/setup.sh
	PYTHON=$(PY) bash deploy/kafka/kafka.sh fetch

model: setup  ## build the classifier artefacts into the cache (skipped when present)
	$(PY) -m pipeline.cli model build

kafka: setup  ## a broker on 127.0.0.1:9092 for `tocsin worker` by hand (state in the cache)
	PYTHON=$(PY) bash deploy/kafka/kafka.sh start
	$(PY) -m pipeline.cli topics create

kafka-stop:
	bash deploy/kafka/kafka.sh stop

demo: setup model  ## broker + worker + replayed two-day stream with a crisis; prints the alerts
	$(PY) -m pipeline.cli demo

lint: setup  ## ruff, mypy strict, and the import contracts in pyproject.toml (layers, no cycles)
	$(PY) -m ruff check pipeline agents models tests bench
	$(PY) -m mypy
	$(CURDIR)/.venv/bin/lint-imports

test-unit: setup
	$(PY) -m pytest tests/unit -q

test-integration: setup model
	$(PY) -m pytest tests/integration -q

test-e2e: setup model
	$(PY) -m pytest tests/e2e -q

test-faults: setup model  ## fault tests only (each file runs its own broker + worker, 2-4 min)
	$(PY) -m pytest tests/integration/test_faults_*.py -q -p no:cacheprovider

test: setup model lint  ## the whole suite: lint, types, unit, integration, end-to-end
	$(PY) -m pytest tests -q -p no:cacheprovider --durations=30

test-rules: setup  ## Prometheus rules: promtool check + unit tests (no server)
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.yml

grafana-schema:  ## regenerate deploy/grafana/schema/dashboard.schema.json from npm @grafana/schema (needs npm)
	bash deploy/grafana/make-schema.sh

.PHONY: bench
BENCH_ARGS ?= --quick
bench: setup model  ## benchmark harness (bench/README.md); quick profile, `make bench BENCH_ARGS=` for the full one
	$(PY) -m bench.run $(BENCH_ARGS)
