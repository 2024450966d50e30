# Shuzi: `make run` sets everything up and runs offline; `make test` sets up and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench bench-scale bench-milvus bench-chat bench-hostile train-reader reader-calibration docs-screenshot clean
SCALE_N ?= 1000000

setup: $(STAMP)

# torch first, the CPU build from PyTorch's CPU index: PyPI's torch for Linux is a multi-GB
# CUDA build. Another index (a mirror, a CUDA build): make setup TORCH_INDEX=...
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --index-url $(TORCH_INDEX) "torch==2.13.0"
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

# Brings the index up to date without dropping anything (`shuzi index sync`: new corpus files
# and stored articles added, nothing removed, nothing written when it is current), then starts
# the Telegram bot when a token is configured (SHUZI_TELEGRAM_TOKEN in the environment or
# .env), else the console chat.
run: setup
	HF_HUB_OFFLINE=1 $(BIN)/shuzi index sync
	@if [ -n "$$SHUZI_TELEGRAM_TOKEN" ] || grep -qs '^SHUZI_TELEGRAM_TOKEN=..*' .env; then \
		HF_HUB_OFFLINE=1 $(BIN)/shuzi bot; \
	else \
		echo "No SHUZI_TELEGRAM_TOKEN configured: starting the console chat."; \
		HF_HUB_OFFLINE=1 $(BIN)/shuzi chat; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The suite on TEST_WORKERS processes (pytest-xdist), a test file to a process: its
# module fixtures (an index built once, a bot started once) are built once. 2 workers on
# this 2-core machine: pytest 8 min 54 s -> 5 min 36 s. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.run
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.bot_bench

# An archive of SCALE_N passages (synthesised from real text, see bench/scale.py): build,
# serve, add, remove; the last line printed is one JSON object.
bench-scale: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.scale --n $(SCALE_N)

# Milvus Lite against the local store: quality, latency, migrate round trip, memory.
bench-milvus: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.milvus

# Follow-ups, charts and links as a user meets them (issue 11).
bench-chat: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.chat_bench

# Hostile uploads, links and feeds against the running bot, restarts, the token (issue 16).
bench-hostile: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.hostile

# Reproduces index/reader/weights/ on this machine's CPU (hours); resumes from its checkpoint
# in data/reader-training/ when stopped. Needs ../shared/drcd (DRCD dev and test).
train-reader: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[train]"
	HF_HUB_OFFLINE=1 $(BIN)/python -m index.reader.train

# How many windows the reader reads and where it abstains, on DRCD's held-out articles.
reader-calibration: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[train]"
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.reader_calibration

# docs/conversation.png: a conversation with the bot, rendered as the bot writes its messages
# and screenshotted in Debian's Chromium (apt-get install chromium), headless.
docs-screenshot: setup
	HF_HUB_OFFLINE=1 $(BIN)/python docs/conversation.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache .hypothesis
