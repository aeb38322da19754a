# skillcrate: `make demo` (no server needed) and `make test` (starts its own registries).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SYSTEM_TOOLS := docker-registry skopeo htpasswd umoci

.PHONY: demo test lint format bench bench-suite bench-floors dist system-deps js-deps agents-deps test-agents clean

$(BIN)/skillcrate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.test-deps: $(BIN)/skillcrate
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(BIN)/skillcrate
	PATH="$(CURDIR)/$(BIN):$$PATH" sh examples/demo.sh

# Debian's docker-registry (CNCF Distribution), skopeo, htpasswd and umoci, when root and missing.
system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo apache2-utils umoci >/dev/null; \
	  else \
	    echo "missing:$$missing (install docker-registry skopeo apache2-utils umoci; tests that need them will skip, or fail under CI=true)"; \
	  fi; \
	fi

# Sigstore's JS libraries (tests/js) for the cross-check in tests/test_sigstore_js.py, when
# node and npm exist; reinstalled only when the lock file changes.
JS_DIR := tests/js
js-deps:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
	  if [ ! -f $(JS_DIR)/node_modules/.package-lock.json ] || \
	     [ $(JS_DIR)/package-lock.json -nt $(JS_DIR)/node_modules/.package-lock.json ]; then \
	    npm ci --prefix $(JS_DIR) --no-audit --no-fund --loglevel=error; \
	  fi; \
	else \
	  echo "node/npm missing: the sigstore-js cross-check tests will skip"; \
	fi

# compileall: the CLI tests start many interpreters, and with PYTHONDONTWRITEBYTECODE set
# each would otherwise compile skillcrate from source again.
test: $(VENV)/.test-deps system-deps js-deps
	$(BIN)/python -m compileall -q src
	$(BIN)/python -m pytest

# The real agent CLIs (tests/agents/package.json, pinned by its package-lock.json), about 1 GB,
# installed outside the work tree so that every clone shares them:
# $(AGENTS_CACHE)/<sha256 of the lock>/node_modules. A changed lock means a new folder.
AGENTS_DIR   := tests/agents
AGENTS_CACHE ?= $(or $(SKILLCRATE_AGENTS_CACHE),$(HOME)/.cache/skillcrate-test-agents)
agents-deps:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  echo "node/npm missing: the real-agent tests will skip, or fail under CI=true"; exit 0; \
	fi; \
	lock_sha=$$(sha256sum $(AGENTS_DIR)/package-lock.json | cut -d' ' -f1); \
	dest="$(AGENTS_CACHE)/$$lock_sha"; \
	if [ -f "$$dest/node_modules/.package-lock.json" ]; then exit 0; fi; \
	echo "installing the agent CLIs into $$dest"; \
	mkdir -p "$(AGENTS_CACHE)" && tmp=$$(mktemp -d "$(AGENTS_CACHE)/.install.XXXXXX") && \
	cp $(AGENTS_DIR)/package.json $(AGENTS_DIR)/package-lock.json "$$tmp/" && \
	(cd "$$tmp" && npm ci --no-audit --no-fund --loglevel=error) && \
	rm -rf "$$dest" && mv "$$tmp" "$$dest" || { rm -rf "$$tmp"; exit 1; }

test-agents: $(VENV)/.test-deps system-deps agents-deps
	SKILLCRATE_AGENTS_CACHE="$(AGENTS_CACHE)" $(BIN)/python -m pytest tests/agents -m agents

# ruff, mypy --strict (config in pyproject.toml) and the import-layer contract that
# tests/test_layers.py reads from docs/design.md's module table.
lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -p no:cacheprovider tests/test_layers.py

format: $(VENV)/.test-deps
	$(BIN)/ruff format src tests benchmarks

# A wheel in dist/, to install skillcrate as a tool (pipx install dist/skillcrate-*.whl) or
# to ship to a machine, a CI job or Copilot's setup steps.
dist: $(BIN)/skillcrate
	rm -rf dist && $(BIN)/python -m pip wheel -q --no-deps -w dist .

bench-suite: $(BIN)/skillcrate
	$(BIN)/python benchmarks/suite.py

bench: $(BIN)/skillcrate
	$(BIN)/python benchmarks/noop_install.py

bench-floors: $(BIN)/skillcrate
	$(BIN)/python benchmarks/floors.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist
