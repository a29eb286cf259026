# Two commands matter on a fresh machine: `make run` and `make test`. Everything they need is
# installed here: the virtualenv with the project and its test tools, the code generated from our
# .proto files, and etcdctl (Debian package etcd-client) for the interop tests.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
PROTOS := $(shell find etcd mux -name '*.proto' 2>/dev/null | sort)
PROTO_STAMP := $(VENV)/.proto-generated
PYTEST_ARGS ?=

.PHONY: venv proto tools bench-tools run demo test lint typecheck unit bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip 2>&1 | { grep -v 'is ignored' || true; }
	$(PY) -m pip install -q -e '.[dev]' 2>&1 | { grep -vE 'is ignored|BuildBackendWarning|^ +|^$$' || true; }
	@touch $@

proto: $(PROTO_STAMP)

# Regenerate when any .proto changes; the generated modules are not committed.
$(PROTO_STAMP): $(STAMP) $(PROTOS) scripts/gen_proto.py
	$(PY) scripts/gen_proto.py
	@touch $@

tools:
	@bash scripts/install-tools.sh

bench-tools:
	@bash scripts/install-tools.sh --bench

# One member with etcd's defaults: client port 2379 and peer port 2380 on localhost (127.0.0.1), data dir
# default.etcd; add etcd flags with ARGS='--name=m1 ...'.
run: venv proto
	$(PY) -m etcd $(ARGS)

demo: venv proto
	$(PY) -m mux.demo

lint: venv proto
	$(BIN)/ruff check .
	$(BIN)/ruff format --check mux

typecheck: venv proto
	$(BIN)/mypy mux etcd

unit: venv proto
	$(BIN)/pytest $(PYTEST_ARGS)

test: venv proto tools
	$(BIN)/ruff check .
	$(BIN)/mypy mux etcd
	$(BIN)/pytest $(PYTEST_ARGS)

bench: venv proto bench-tools
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name '*_pb2*.py*' -not -path './$(VENV)/*' -delete
