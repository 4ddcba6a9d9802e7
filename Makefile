# smsflow: the two commands are `make up` (bring the platform up and send work through it)
# and `make test` (what CI runs; `make check` is the same). `make help` lists everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Build output lives outside the checkout so fresh clones (and CI) reuse it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/smsflow/target
# Integration tests share one local stack; keep their number sane on 2 cores.
TEST_THREADS ?= 4
STACK := scripts/stack.sh

.PHONY: help deps tools stack-up setup up demo down status logs build fmt lint run-tests test deploy-check check

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

deps: ## install missing system packages (apt-get, when root)
	@scripts/deps.sh

tools: deps ## node-smpp and Confluent's Python client for the conformance tests
	@scripts/tools.sh

build: deps ## build every binary
	cargo build --workspace --bins

stack-up: deps ## start Kafka, Cassandra and the schema registry (no-op if running)
	@$(STACK) start

setup: build stack-up ## create topics, register schemas, migrate the CQL store
	$(CARGO_TARGET_DIR)/debug/smsflow admin setup

# The demo runs when this call started the platform; a second `make up` changes nothing.
up: setup ## bring the whole platform up and send a few messages through it
	@scripts/platform.sh start
	@echo
	@echo "smsflow is up:"
	@echo "  API          http://127.0.0.1:8080/v1/messages   (key: sk_local_demo)"
	@echo "  analytics    http://127.0.0.1:8085   router :8082/metrics  dispatcher :8083/metrics  dlr-ingester :8084/metrics"
	@echo "  simulator    SMPP 127.0.0.1:2775, ledger http://127.0.0.1:8090/ledger/summary"
	@echo "  Kafka 127.0.0.1:9092, CQL 127.0.0.1:9042, registry http://127.0.0.1:8081/apis/ccompat/v7"
	@if [ -f .stack/platform-started-now ]; then echo; scripts/demo.py; fi

demo: ## send a few messages through the running platform
	@scripts/demo.py

down: ## stop everything `make up` started
	@scripts/platform.sh stop
	@$(STACK) stop

status: ## what is running
	@$(STACK) status || true
	@scripts/platform.sh status

logs: ## tail the logs
	@$(STACK) logs

fmt: ## format the code
	cargo fmt --all

lint: deps ## rustfmt check and clippy with warnings denied
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The tests alone. Starts the stack only if none of it is running, and stops only what it started. If the
# stack is half up (a server was killed), nothing is restarted: setup fails within seconds,
# naming the server that does not answer.
run-tests: deps tools ## only the unit and integration tests against the real stack
	@started=$$(mktemp); trap '$(STACK) stop --only '"$$started"'; rm -f '"$$started" EXIT; \
	wait=60; \
	if $(STACK) status >/dev/null 2>&1; then :; \
	elif $(STACK) status 2>/dev/null | grep -qE '^[a-z]+ +ready'; then \
	  echo "[test] the stack is partly down (not restarting it):"; $(STACK) status || true; wait=5; \
	else $(STACK) start --record "$$started"; fi; \
	cargo build --workspace --bins && \
	{ RUST_BACKTRACE=0 SMSFLOW_TELEMETRY__LOG_FORMAT=pretty SMSFLOW_TELEMETRY__LOG_FILTER=off \
	    $(CARGO_TARGET_DIR)/debug/smsflow admin setup --wait $$wait || \
	  { echo "[test] the stack does not answer (above: which server, where); 'make status' shows it" >&2; exit 1; }; } && \
	cargo test --workspace --no-fail-fast -- --test-threads=$(TEST_THREADS) && \
	bench/smoke.sh && \
	python3 fuzz/run.py --short && \
	$(MAKE) --no-print-directory chaos-smoke

deploy-check: build ## Helm lint/template, k8s schemas, every binary accepts its rendered config
	@scripts/deploy-check.sh

test: lint run-tests deploy-check ## what CI runs: fmt, clippy -D warnings, all tests, deploy checks

check: test ## the same as `make test`

# The benchmark of issue 8 (bench/README.md). Not part of `make test`; CI runs the smoke.
.PHONY: bench bench-smoke
bench: deps ## end-to-end benchmark: release build, local stack, report in bench/reports/
	@python3 bench/run.py

bench-smoke: ## 10 s of the benchmark (starts the platform if needed); fails on any loss
	@bench/smoke.sh

# Fuzzing of issue 9 (fuzz/README.md): coverage-guided libFuzzer on stable, one target at a
# time on one core. `make test` runs the short run (fuzz-smoke) after the bench smoke.
FUZZ_RUNS ?= 10000000
.PHONY: fuzz fuzz-smoke fuzz-lint
fuzz: deps ## fuzz every target FUZZ_RUNS times (default 10M); report in bench/reports/fuzz-<date>.md
	@python3 fuzz/run.py --runs $(FUZZ_RUNS) --report bench/reports/fuzz-$$(date +%F).md

fuzz-smoke: deps ## the short fuzz run of `make test`: 50,000 executions (at most 20 s) per target
	@python3 fuzz/run.py --short

fuzz-lint: deps ## rustfmt check and clippy -D warnings of the fuzz crate (its own workspace)
	@python3 fuzz/run.py --lint

# The chaos suite of issue 9 (bench/chaos.py, bench/README.md): SIGKILL under load, then every
# 202-accepted message reconciled. `make test` runs chaos-smoke (2 rounds per service, debug).
.PHONY: chaos chaos-smoke
chaos: deps stack-up ## kill every service, Kafka and Cassandra 20 times each under load, 20 rounds of two dispatchers, 20 link drops; report in bench/reports/chaos-<date>.md
	@python3 bench/chaos.py

chaos-smoke: ## 2 SIGKILLs per service, 2 rounds of the two-dispatcher target, 2 link drops, one carrier down 30 s of two, under load (debug binaries, already built); fails on any loss
	@CHAOS_PROFILE=debug BENCH_BUILD=0 CHAOS_ROUNDS=2 CHAOS_RATE=50 CHAOS_CARRIER_DOWN_SECS=30 \
	  CHAOS_TARGETS=ingest,router,dispatcher,dlr-ingester,analytics,dispatchers,link-drops,carrier-outage \
	  CHAOS_ENFORCE=lost,stuck,duplicates CHAOS_REPORT_DIR=$${TMPDIR:-/tmp}/smsflow-chaos-smoke \
	  python3 bench/chaos.py
