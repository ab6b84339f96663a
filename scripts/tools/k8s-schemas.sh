#!/usr/bin/env bash
# Produces the JSON schemas kubeconform validates the chart's rendered manifests against, offline:
#   - Kubernetes kinds from the OpenAPI spec inside the k8s.io/kubernetes Go module (same version as the e2e
#     control plane that test/cluster builds, so both share one module download);
#   - the VolumeSnapshot CRDs from test/fixtures/crds;
#   - the ServiceMonitor CRD from the prometheus-operator Go module (example/prometheus-operator-crd/).
# Output: .cache/k8s-schemas/ (see scripts/tools/k8s-schemas.mjs for the layout). Idempotent: skips when the stamp
# for these versions exists. Needs go (module proxy) and node with node_modules installed (the yaml package).
set -euo pipefail
cd "$(dirname "$0")/../.."
K8S_VERSION=${K8S_SCHEMA_VERSION:-1.34.4}
PROMETHEUS_OPERATOR_VERSION=v0.85.0
out=.cache/k8s-schemas
stamp="$out/.stamp-k8s-$K8S_VERSION-promop-$PROMETHEUS_OPERATOR_VERSION"
if [ -f "$stamp" ] && [ "$stamp" -nt scripts/tools/k8s-schemas.mjs ]; then
  echo "kubeconform schemas present ($out, Kubernetes $K8S_VERSION)"
  exit 0
fi
mod_dir() { # module@version -> its directory in the module cache
  (cd /tmp && go mod download -json "$1") | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const m = JSON.parse(s); if (m.Error || !m.Dir) { console.error(m.Error || "no Dir"); process.exit(1); }
      console.log(m.Dir); });'
}
k8s=$(mod_dir "k8s.io/kubernetes@v$K8S_VERSION")
promop=$(mod_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
crds=test/fixtures/crds
[ -d "$crds" ] || { echo "missing $crds (the VolumeSnapshot CRDs the repository carries)" >&2; exit 1; }
rm -rf "$out"
node scripts/tools/k8s-schemas.mjs \
  --swagger "$k8s/api/openapi-spec/swagger.json" --k8s-version "$K8S_VERSION" --out "$out" \
  --crd "$crds/snapshot.storage.k8s.io_volumesnapshots.yaml" \
  --crd "$crds/snapshot.storage.k8s.io_volumesnapshotclasses.yaml" \
  --crd "$crds/snapshot.storage.k8s.io_volumesnapshotcontents.yaml" \
  --crd "$promop/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
touch "$stamp"
