#!/usr/bin/env bash
# Builds the real e2e node's Go programs into .cache/cluster/bin: kubelet and kube-proxy from the same
# k8s.io/kubernetes release as the control plane (test/cluster/node/kube/go.mod copies test/cluster/build/go.mod's
# pin and replaces; a test checks they agree), same version stamp,
# and CoreDNS from test/cluster/node/dns (its own module: CoreDNS pins other client-go versions). A no-op when the
# binaries for both pins are there. Run by test/cluster/build.sh when CLUSTER_NODE=real, or directly.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
mod="$repo/test/cluster/node/kube"
dns="$repo/test/cluster/node/dns"
bin=${CLUSTER_BIN_DIR:-"$repo/.cache/cluster/bin"}

# `require X v` on one line or `X v` inside a require block.
pinned() { awk -v m="$1" '{ if ($1 == "require") $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ {print $2; exit}' "$2"; }
k8s_version=$(pinned k8s.io/kubernetes "$mod/go.mod")
[ -n "$k8s_version" ] || { echo "node/build.sh: cannot read the pinned k8s.io/kubernetes version from $mod/go.mod" >&2; exit 2; }
coredns_version=$(pinned github.com/coredns/coredns "$dns/go.mod")
stamp="$k8s_version $coredns_version $(cat "$mod/go.mod" "$mod/go.sum" "$dns/go.mod" "$dns/go.sum" "$dns/main.go" | sha256sum | cut -c1-16)"
present=1
for b in kubelet kube-proxy coredns; do [ -x "$bin/$b" ] || present=0; done
if [ "$present" = 1 ] && [ "$(cat "$bin/.stamp-node" 2>/dev/null)" = "$stamp" ]; then
  echo "node binaries (kubelet, kube-proxy $k8s_version, CoreDNS $coredns_version) already built in ${bin#"$repo"/}"
  exit 0
fi
command -v go >/dev/null || { echo "node/build.sh: go is not on PATH (Go 1.24+ needed)" >&2; exit 2; }
mkdir -p "$bin"
rm -f "$bin/.stamp-node"
start=$(date +%s)
minor=${k8s_version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  ldflags+=" -X $p.buildDate=1970-01-01T00:00:00Z"
done
export GOFLAGS="-mod=mod -buildvcs=false"
# Static binaries: the kubelet runs fine without cgo here (no cadvisor features that need it on cgroupfs).
export CGO_ENABLED=0
echo "compiling kubelet and kube-proxy $k8s_version ($(nproc) cores)"
(cd "$mod" && go build -trimpath -ldflags="$ldflags" -o "$bin/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
t1=$(date +%s)
echo "compiling CoreDNS $coredns_version (test/cluster/node/dns)"
(cd "$dns" && go mod download && go build -trimpath -ldflags="-s -w -X github.com/coredns/coredns/coremain.GitCommit=$coredns_version" -o "$bin/coredns" .)
echo "$stamp" >"$bin/.stamp-node"
echo "node binaries built in ${bin#"$repo"/}: kubelet+kube-proxy $((t1 - start))s, CoreDNS $(( $(date +%s) - t1 ))s"
