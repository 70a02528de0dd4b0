# OrderPilot — `make demo` and `make test` work on a fresh clone (they create .venv themselves).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DB ?= sqlite:///var/demo.sqlite
HOST ?= 127.0.0.1
PORT ?= 8000
export GRADIO_ANALYTICS_ENABLED = False
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install demo serve test lint typecheck contract bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "OrderPilot needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/python -m assistant.offline.nlu
	touch $@

install: $(BIN)/.installed

demo: install
	mkdir -p var
	$(BIN)/orderpilot load data/demo/demo_factory.yaml --db $(DEMO_DB) --reset
	$(BIN)/python -m cli.demo story --db $(DEMO_DB) > var/demo-story.json
	$(BIN)/orderpilot users demo --db $(DEMO_DB)
	ORDERPILOT_DATABASE_URL=$(DEMO_DB) ORDERPILOT_LLM_BASE_URL= $(BIN)/orderpilot serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy data_model planning tools

contract: install
	@if [ -f ../shared/check_contract.py ]; then $(BIN)/python ../shared/check_contract.py; \
	else echo "../shared/check_contract.py not found: contract check skipped"; fi

test: install lint typecheck
	$(BIN)/python -m pytest -n 2 -q
	$(MAKE) --no-print-directory contract

bench: install
	$(BIN)/orderpilot bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
