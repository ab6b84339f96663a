#!/usr/bin/env bash
# Builds the e2e control plane (kube-apiserver, kube-controller-manager, kube-scheduler and etcd) from the published
# k8s.io/kubernetes module through the Go module proxy, into .cache/cluster/bin. A no-op when the binaries of the
# pinned release are already there. The pin lives in test/cluster/build/go.mod (and go.sum, committed).
# Cold build on 2 cores: see test/cluster/README.md for the measured figure.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
mod="$repo/test/cluster/build"
bin=${CLUSTER_BIN_DIR:-"$repo/.cache/cluster/bin"} # override only to test this script

k8s_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$mod/go.mod")
[ -n "$k8s_version" ] || { echo "build.sh: cannot read the pinned k8s.io/kubernetes version from $mod/go.mod" >&2; exit 2; }
# The stamp names the release and the exact module graph, so a changed pin rebuilds and an unchanged one does not.
stamp="$k8s_version $(cat "$mod/go.mod" "$mod/go.sum" 2>/dev/null | sha256sum | cut -c1-16)"
binaries=(kube-apiserver kube-controller-manager kube-scheduler etcd)

present=1
for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || present=0; done
if [ "$present" = 1 ] && [ "$(cat "$bin/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "control plane $k8s_version already built in ${bin#"$repo"/}"
  # CLUSTER_NODE=real also needs the node's programs (kubelet, kube-proxy, CoreDNS).
  [ "${CLUSTER_NODE:-standin}" != real ] || exec "$repo/test/cluster/node/build.sh"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: go is not on PATH (Go 1.24+ needed)" >&2; exit 2; }
mkdir -p "$bin"
rm -f "$bin/.stamp"
start=$(date +%s)
minor=${k8s_version#v1.}; minor=${minor%%.*}
# Without these the binaries report v0.0.0-master, which Helm's kubeVersion checks and kubectl's skew warning reject.
vpkg=k8s.io/component-base/version
cpkg=k8s.io/client-go/pkg/version
ldflags="-s -w"
for p in $vpkg $cpkg; do
  ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  ldflags+=" -X $p.buildDate=1970-01-01T00:00:00Z"
done

cd "$mod"
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
echo "downloading modules for k8s.io/kubernetes $k8s_version"
go mod download || { echo "build.sh: go mod download failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))" >&2; exit 1; }
echo "compiling kube-apiserver, kube-controller-manager, kube-scheduler ($(nproc) cores)"
go build -trimpath -ldflags="$ldflags" -o "$bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
echo "compiling etcd (go.etcd.io/etcd/server/v3, from the same module graph)"
go build -trimpath -ldflags="-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
echo "$stamp" >"$bin/.stamp"
echo "control plane $k8s_version built in ${bin#"$repo"/} in $(( $(date +%s) - start ))s"
[ "${CLUSTER_NODE:-standin}" != real ] || exec "$repo/test/cluster/node/build.sh"
