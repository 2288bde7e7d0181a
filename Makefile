# Every target creates .venv and installs what it needs; nothing is assumed to be on the machine.
# torch is pinned to the CPU build served here and installed first, so nothing pulls a CUDA build.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed
export ROUTERKIT_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: demo test bench bench-quality models lint clean

INTEGRATIONS := integrations/langchain integrations/llamaindex integrations/dspy

$(STAMP): pyproject.toml core/pyproject.toml onnx_models/pyproject.toml $(INTEGRATIONS:%=%/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=25.1"
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e "core[train,eval,server,compose]" -e onnx_models -e . $(INTEGRATIONS:%=-e %)
	$(PIP) install -q --group dev --group reference --group integrations-test --group server-test
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/routerkit eval --dataset routellm --router mf --plot docs/img/routellm-mf.png
	$(VENV)/bin/routerkit route "What is the capital of France?"
	$(VENV)/bin/routerkit route "Prove that there are infinitely many primes p such that p mod 4 = 3, and explain each step."
	$(VENV)/bin/routerkit route "Janet has 3 apples and buys 2 bags of 6 apples each. She gives away a third. How many are left?"

lint: $(STAMP)
	$(VENV)/bin/ruff check core onnx_models integrations tests bench
	$(VENV)/bin/ruff format --check core onnx_models integrations tests bench
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/run.py --out docs/benchmarks.md
	$(PY) bench/server_load.py --out docs/benchmarks.md
	$(PY) bench/cascade_offline.py
	$(PY) bench/search_synthetic.py
	$(PY) bench/sw_speed.py

# Routing-quality tables (test splits, every choice on train/val); slow the first time: it embeds every prompt.
bench-quality: $(STAMP)
	$(PY) bench/quality_many.py
	$(PY) bench/embedllm_eval.py
	$(PY) bench/transfer_routellm.py
	$(PY) bench/adapt_routellm.py

models: $(STAMP)
	$(PIP) install -q -c onnx_models/scripts/constraints.txt --group reference
	$(PY) onnx_models/scripts/export_encoder.py
	$(PY) -m routerkit.train.build --recipe onnx_models/recipes/mf.json --out onnx_models/routerkit_models/routers/mf --golden tests/fixtures/mf_golden.json
	for d in mmlu_pro zeroeval llmrouter; do $(PY) -m routerkit.train.build_embedllm --recipe onnx_models/recipes/embedllm_$$d.json --out onnx_models/routerkit_models/routers/embedllm_$$d || exit 1; done
	$(PY) -m routerkit.train.build_heads --out-root onnx_models/routerkit_models/routers onnx_models/recipes/knn_*.json
	$(PY) -m routerkit.train.build_heads --out-root onnx_models/routerkit_models/routers onnx_models/recipes/zooter_*.json
	$(PY) -m routerkit.train.build_sw --recipe onnx_models/recipes/sw.json --out onnx_models/routerkit_models/routers/sw
	$(PY) -m routerkit.train.build_classifier --recipe onnx_models/recipes/classifier.json --out onnx_models/routerkit_models/routers/classifier --checkpoint .cache/classifier/checkpoint.pt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
