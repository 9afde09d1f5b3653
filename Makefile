# The two commands: `make demo` and `make test`. Both create or reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The default detector's files, without suffix (DEFAULT_MODEL in src/sitewatch/cli/detect.py is
# its int8 twin).
DET := models/sitewatch-det-0.30.0

.PHONY: venv demo test lint typecheck imports pytest bench bench-detect eval-detector calibrate-detector eval-change bench-alerts train-detector train-change clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	touch $(STAMP)

demo: venv
	$(BIN)/sitewatch demo

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: venv
	$(BIN)/mypy src

imports: venv
	$(BIN)/lint-imports

# pytest exits 5 when it collects no test: that is a failure here, never a pass.
pytest: venv
	$(BIN)/python -m pytest -q

test: lint typecheck imports pytest

bench: venv
	$(BIN)/python benchmarks/bench_chips.py

# Detector speed and memory (fp32, int8 and a YOLOv8-style baseline in one run).
bench-detect: venv
	$(BIN)/python benchmarks/bench_detect.py

# Detector quality on the held-out split (needs ../shared/data), fp32 and its int8 twin (the
# default), generated classes pooled over 20 draws of objects; writes benchmarks/results/detector
# and benchmarks/results/detector-int8.
eval-detector: venv
	$(BIN)/sitewatch eval-detector --config configs/train-det.yaml --draws 20 --model $(DET).onnx
	$(BIN)/sitewatch eval-detector --config configs/train-det.yaml --draws 20 --model $(DET)-int8.onnx --out benchmarks/results/detector-int8

# Score calibration of the fp32 model on its training split, given to its int8 twin as well
# (needs ../shared/data).
calibrate-detector: venv
	$(BIN)/sitewatch calibrate-detector --config configs/train-det.yaml --model $(DET).onnx --also $(DET)-int8.onnx

# Pixel-change quality on the shared LEVIR-CD, DSIFN and OSCD pairs; writes benchmarks/results/change.
eval-change: venv
	$(BIN)/python -W ignore::rasterio.errors.NotGeoreferencedWarning benchmarks/eval_change.py

# Alerting benchmark on generated scenarios (20 campaign + 20 quiet); writes benchmarks/results/alerts.
bench-alerts: venv
	$(BIN)/python benchmarks/bench_alerts.py --n 20

# Train the default detector from scratch on the CPU (resumes), export it into models/.
train-detector: venv
	$(BIN)/sitewatch train configs/train-det-0.2.0.yaml
	$(BIN)/sitewatch train configs/train-det.yaml
	$(BIN)/sitewatch train configs/train-det-0.6.0.yaml
	$(BIN)/sitewatch train configs/train-det-0.7.0.yaml
	$(BIN)/sitewatch train configs/train-det-0.8.0.yaml
	$(BIN)/sitewatch train configs/train-det-0.9.0.yaml --export-to models
	$(BIN)/sitewatch train configs/train-det-0.9.1.yaml --export-to models
	$(BIN)/sitewatch train configs/train-det-0.14.0.yaml --export-to models
	$(BIN)/sitewatch train configs/train-det-0.15.0.yaml --export-to models
	$(BIN)/sitewatch train configs/train-det-0.15.1.yaml --export-to models
	$(BIN)/sitewatch train configs/train-det-0.15.2.yaml --export-to models
	$(BIN)/sitewatch train configs/train-det-0.19.0.yaml --export-to models
	$(BIN)/sitewatch train configs/train-det-0.20.0.yaml --export-to benchmarks/results/detector-experiments/det-0.20.0/model
	$(BIN)/sitewatch train configs/train-det-0.21.0.yaml --export-to benchmarks/results/detector-experiments/det-0.21.0/model
	$(BIN)/sitewatch train configs/train-det-0.22.0.yaml --export-to models
	$(BIN)/sitewatch train configs/train-det-0.26.0.yaml --export-to benchmarks/results/detector-experiments/det-0.26.0/model
	$(BIN)/sitewatch train configs/train-det-0.27.0.yaml --export-to benchmarks/results/detector-experiments/det-0.27.0/model
	$(BIN)/sitewatch train configs/train-det-0.28.0.yaml --export-to benchmarks/results/detector-experiments/det-0.28.0/model
	$(BIN)/sitewatch train configs/train-det-0.30.0.yaml --export-to models

train-change: venv
	$(BIN)/sitewatch train-change configs/train-change.yaml --export-to models

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
