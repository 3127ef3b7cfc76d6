# Two commands do all the set-up: `make demo` and `make test`.
# uv comes from PyPI into .tools/ when it is not on PATH; it then builds .venv from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(shell uv --version >/dev/null 2>&1 && command -v uv || echo .tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench sync clean node-tools client-tools chromium native

demo: sync native
	$(BIN)/broker demo

test: sync native lint typecheck chromium pytest

sync: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

lint: sync
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@if $(CARGO) fmt --version >/dev/null 2>&1; then cd broker/pii/native && $(CARGO) fmt --check; fi
	@if $(CARGO) clippy --version >/dev/null 2>&1; then cd broker/pii/native && \
		PYO3_PYTHON=$(CURDIR)/$(BIN)/python $(CARGO) clippy --release --quiet --locked -- -D warnings; fi

typecheck: sync
	$(BIN)/mypy

# Two pytest-xdist workers, a test file to each at a time (tests/scheduling.py): most tests wait
# on servers and sockets, so two share the 2-core machine well. `pytest path` alone runs in one process.
PYTEST_WORKERS ?= 2

pytest: sync native client-tools
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile

# The PII detector's hottest scans in Rust (broker/pii/native/), built offline from Debian's
# packaged crates (librust-*-dev, installed with apt when missing) by cargo 1.82 or newer (rustup's,
# from PATH or ~/.cargo/bin: Debian's 1.65 is too old for the crate). Without them the same scans
# run in Python (the reference), slower, and this says so.
CARGO := $(shell command -v cargo 2>/dev/null || echo $(HOME)/.cargo/bin/cargo)
CARGO_OK := $(shell $(CARGO) --version 2>/dev/null | awk '{split($$2, v, "."); print (v[1] > 1 || v[2] >= 82) ? "yes" : "no"}')
NATIVE_SO := broker/pii/_native$(shell $(PYTHON) -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
NATIVE_SRC := $(wildcard broker/pii/native/src/*.rs broker/pii/native/src/*/*.rs) broker/pii/native/Cargo.toml broker/pii/native/Cargo.lock
NATIVE_CRATES := librust-pyo3-dev librust-blake2b-simd-dev librust-hmac-dev librust-sha2-dev librust-ring-dev
HAVE_CRATES := for crate in pyo3-0.17.3 blake2b_simd-1.0.0 hmac-0.12.1 sha2-0.10.5 ring-0.16.20; do \
	[ -d /usr/share/cargo/registry/$$crate ] || exit 1; done

native: $(NATIVE_SO)

$(NATIVE_SO): $(NATIVE_SRC) | $(VENV)/.synced
	@if [ "$(CARGO_OK)" != yes ]; then \
		echo "*** no cargo 1.82 or newer (rustup) here: the PII scans run in Python, ~10x slower ***"; \
		exit 0; \
	fi; \
	if ! ( $(HAVE_CRATES) ) && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(NATIVE_CRATES); \
	fi; \
	if ( $(HAVE_CRATES) ); then \
		cd broker/pii/native && PYO3_PYTHON=$(CURDIR)/$(BIN)/python $(CARGO) build --release --quiet --locked \
		&& cp target/release/lib_native.so $(CURDIR)/$@.new && mv -f $(CURDIR)/$@.new $(CURDIR)/$@; \
	else \
		echo "*** $(NATIVE_CRATES) cannot be installed here (apt): the PII scans run in Python, ~10x slower ***"; \
	fi

# The console's browser tests (tests/ui) drive Debian's Chromium; install it when it is missing
# and apt can be used (as root). Elsewhere the tests say loudly why they cannot run.
chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
		else \
			echo "chromium and chromium-driver are missing and apt-get is not usable: tests/ui will be skipped"; \
		fi; \
	fi

# Node 22, the MCP conformance suite, the TypeScript SDK and the Inspector CLI for the tests,
# pinned by tests/node/package-lock.json (the machine's npm installs them; node 22 comes as a package).
# The stamp is named after the two files' content, not dated: a checkout newer than the install
# (a fresh git worktree whose node_modules links to another's) must not run `npm ci`, which
# would empty the linked directory.
NODE_SUM := $(shell cat tests/node/package.json tests/node/package-lock.json | cksum | cut -d' ' -f1)
NODE_TOOLS := tests/node/node_modules/.installed-$(NODE_SUM)

node-tools: $(NODE_TOOLS)

$(NODE_TOOLS):
	npm ci --prefix tests/node --no-audit --no-fund
	@touch $@

# Real clients for the end-to-end tests: the node tools, and the Python SDK 1.x in a venv of its
# own (it cannot live beside the 2.x SDK of .venv).
MCP1 := .tools/mcp1/.installed

client-tools: node-tools $(MCP1)

$(MCP1): | $(UV)
	$(UV) venv --quiet --python $(PYTHON) .tools/mcp1
	$(UV) pip install --quiet --python .tools/mcp1/bin/python mcp==1.30.0
	@touch $@

bench: sync native
	$(BIN)/python bench/tool_path.py

clean:
	rm -rf $(VENV) .tools .demo .pytest_cache .mypy_cache .ruff_cache tests/node/node_modules
	rm -rf broker/pii/native/target broker/pii/_native*.so
