#!/usr/bin/env bash
# Debian packages the tests need. Idempotent: installs only what is missing.
set -euo pipefail
need=()
# openssl: the e2e PKI; unzip: Helm from the npm layers; xz-utils: real Qdrant binaries (.xz);
# containerd, runc, containernetworking-plugins, iptables, iproute2, util-linux (nsenter), gcc (the pause image):
# the real node of the e2e tier (test/cluster/README.md, "Real node").
for pkg in openssl unzip xz-utils containerd runc containernetworking-plugins iptables iproute2 util-linux gcc; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
echo "system packages present"
