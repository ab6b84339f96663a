#!/usr/bin/env bash
# Starts the e2e cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler (built by build.sh) and the
# kubelet stand-in (test/cluster/kubelet, nodes node-a/b/c running pods as local processes). Everything on loopback.
# Idempotent: when the cluster already answers, prints the kubeconfig and exits 0; a half-started leftover is torn
# down first. Prints the admin kubeconfig path on stdout (last line); progress goes to stderr.
# Env: CLUSTER_PORT_BASE (default 26400, below the ephemeral port range), CLUSTER_NODES (default node-a,node-b,node-c), CLUSTER_UP_TIMEOUT (s, 120).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$repo" # `node --import tsx` resolves tsx from the working dir
take_lock
start=$(date +%s)
timeout=${CLUSTER_UP_TIMEOUT:-120}
deadline=$((start + timeout))

kubectl_bin=""
for k in "$repo/.tools/bin/kubectl" "$(command -v kubectl || true)"; do
  if [ -n "$k" ] && [ -x "$k" ]; then kubectl_bin=$k; break; fi
done
[ -n "$kubectl_bin" ] || die "kubectl not found: run \`make tools\` (it unpacks .tools/bin/kubectl)"
kc() { "$kubectl_bin" --kubeconfig "$kubeconfig" "$@"; }

apiserver_ready() {
  curl -sf --max-time 2 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$apiserver_port/readyz" >/dev/null 2>&1
}

all_alive() {
  local c
  for c in "${components[@]}"; do pid_alive "$run/$c.pid" || return 1; done
}

if all_alive && apiserver_ready; then
  log "cluster already running"
  echo "$kubeconfig"
  exit 0
fi
if compgen -G "$run/*.pid" >/dev/null; then
  log "found a partial cluster: tearing it down first"
  "$(dirname "$0")/down.sh"
fi

for b in etcd kube-apiserver kube-controller-manager kube-scheduler; do
  [ -x "$bin/$b" ] || die "$bin/$b missing: run \`make cluster-build\` (test/cluster/build.sh)"
done
command -v openssl >/dev/null || die "openssl missing (scripts/tools/system.sh installs it)"
[ -f "$repo/node_modules/tsx/package.json" ] || die "node_modules missing: run \`npm ci\`"
crds="$repo/test/fixtures/crds"
[ -d "$crds" ] || die "$crds missing (the VolumeSnapshot CRDs come from test/fixtures/crds)"

# wait_for WHAT CMD...: retries CMD until it succeeds or the up deadline passes; names the log to read on failure.
# A component that exits while we wait fails the start at once, with the end of its log.
wait_for() {
  local what=$1; shift
  local f problem
  until "$@" >/dev/null 2>&1; do
    problem=""
    for f in "$run"/*.pid; do
      [ -e "$f" ] || continue
      pid_alive "$f" || { problem="$(basename "$f" .pid) exited"; tail -n 30 "${f%.pid}.log" >&2 || true; break; }
    done
    if [ -z "$problem" ] && [ "$(date +%s)" -ge "$deadline" ]; then
      problem="timed out after ${timeout}s"
      tail -n 20 "$run"/*.log >&2 || true
    fi
    if [ -n "$problem" ]; then
      echo "cluster: $problem while waiting for $what; logs in $run/*.log (kept in $last_logs after down.sh)" >&2
      "$(dirname "$0")/down.sh" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
}

# spawn NAME CMD...: runs CMD in its own session (pid == process group id), logs to run/NAME.log.
spawn() {
  local name=$1; shift
  setsid "$@" >"$run/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$run/$name.pid"
}

for p in "$etcd_port" "$etcd_peer_port" "$apiserver_port" "$kcm_port" "$scheduler_port" \
  $(seq "$kubelet_port_base" $((kubelet_port_base + $(tr ',' '\n' <<<"$nodes" | wc -l) - 1))); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "port 127.0.0.1:$p is in use (another cluster? run down.sh, or pick another CLUSTER_PORT_BASE)"
  fi
done
mkdir -p "$run" "$pki" "$volumes"

# --- PKI: one CA signs every serving and client certificate; a separate key pair signs service-account tokens. ---
log "generating certificates"
ossl() { openssl "$@" 2>/dev/null; }
newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
newkey "$pki/ca.key"
ossl req -x509 -new -key "$pki/ca.key" -subj "/CN=qdrant-upgrade-guard-e2e-ca" -days 30 -out "$pki/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
# cert NAME SUBJECT EKU [SAN]
cert() {
  local name=$1 subj=$2 eku=$3 san=${4:-}
  newkey "$pki/$name.key"
  local ext=(-addext "extendedKeyUsage=$eku" -addext "keyUsage=critical,digitalSignature")
  [ -z "$san" ] || ext+=(-addext "subjectAltName=$san")
  ossl req -new -key "$pki/$name.key" -subj "$subj" "${ext[@]}" -out "$pki/$name.csr"
  ossl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 \
    -copy_extensions copyall -out "$pki/$name.crt"
  rm -f "$pki/$name.csr"
}
cert apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local${node_host_ip:+,IP:$node_host_ip}"
cert admin "/O=system:masters/CN=e2e-admin" clientAuth
cert controller-manager "/CN=system:kube-controller-manager" clientAuth
cert scheduler "/CN=system:kube-scheduler" clientAuth
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
node_sans="IP:127.0.0.1,DNS:localhost"
for n in ${nodes//,/ }; do node_sans+=",DNS:$n"; done
cert kubelet "/CN=kubelet-standin" serverAuth "$node_sans"
# The aggregation layer's request-header CA: controller-manager and scheduler read it for delegated authentication.
newkey "$pki/front-proxy-ca.key"
ossl req -x509 -new -key "$pki/front-proxy-ca.key" -subj "/CN=front-proxy-ca" -days 30 -out "$pki/front-proxy-ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
newkey "$pki/front-proxy-client.key"
ossl req -new -key "$pki/front-proxy-client.key" -subj "/CN=front-proxy-client" -addext "extendedKeyUsage=clientAuth" \
  -out "$pki/front-proxy-client.csr"
ossl x509 -req -in "$pki/front-proxy-client.csr" -CA "$pki/front-proxy-ca.crt" -CAkey "$pki/front-proxy-ca.key" \
  -CAcreateserial -days 30 -copy_extensions copyall -out "$pki/front-proxy-client.crt"
rm -f "$pki/front-proxy-client.csr"
newkey "$pki/sa.key"
ossl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
chmod 600 "$pki"/*.key

write_kubeconfig() { # FILE CERTNAME
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority: $pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $pki/$2.crt
    client-key: $pki/$2.key
contexts:
- name: e2e
  context: {cluster: e2e, user: $2, namespace: default}
current-context: e2e
EOF
  chmod 600 "$1"
}
write_kubeconfig "$kubeconfig" admin
write_kubeconfig "$run/controller-manager.kubeconfig" controller-manager
write_kubeconfig "$run/scheduler.kubeconfig" scheduler

# --- etcd: single member, loopback, no fsync (test data dies with the cluster anyway). ---
log "starting etcd"
spawn etcd "$bin/etcd" --name e2e --data-dir "$run/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "e2e=http://127.0.0.1:$etcd_peer_port" --unsafe-no-fsync --log-level warn
wait_for "etcd on 127.0.0.1:$etcd_port" curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health"

log "starting kube-apiserver on https://127.0.0.1:$apiserver_port"
# --endpoint-reconciler-type=none: the `kubernetes` Service's Endpoints may not hold a loopback address.
spawn kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address "$apiserver_bind" --advertise-address "$apiserver_advertise" --secure-port "$apiserver_port" \
  --cert-dir "$run/apiserver-certs" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --authorization-mode Node,RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.96.0.0/16 \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP \
  --requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
  --endpoint-reconciler-type "$endpoint_reconciler" --allow-privileged=true --profiling=false --v=1
wait_for "kube-apiserver /readyz" apiserver_ready

log "starting kube-controller-manager and kube-scheduler"
spawn kube-controller-manager "$bin/kube-controller-manager" \
  --kubeconfig "$run/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$run/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$run/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$kcm_port" --cert-dir "$run/kcm-certs" \
  --leader-elect=false --use-service-account-credentials=true \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --controllers '*' --profiling=false --v=1
spawn kube-scheduler "$bin/kube-scheduler" \
  --kubeconfig "$run/scheduler.kubeconfig" \
  --authentication-kubeconfig "$run/scheduler.kubeconfig" \
  --authorization-kubeconfig "$run/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$scheduler_port" \
  --leader-elect=false --profiling=false --v=1

log "installing the VolumeSnapshot CRDs, the default StorageClass and VolumeSnapshotClass"
kc apply -f "$crds" >/dev/null
kc apply -f "$(dirname "$0")/manifests/storageclass.yaml" >/dev/null
kc wait --for condition=Established --timeout 30s -f "$crds" >/dev/null
kc apply -f "$(dirname "$0")/manifests/volumesnapshotclass.yaml" >/dev/null

if [ "$cluster_node" = real ]; then
  source "$(dirname "$0")/node/start.sh"
else
log "starting the kubelet stand-in ($nodes)"
spawn kubelet node --import tsx "$repo/test/cluster/kubelet/main.ts" \
  --kubeconfig "$kubeconfig" --nodes "$nodes" --kubelet-port-base "$kubelet_port_base" \
  --serving-cert "$pki/kubelet.crt" --serving-key "$pki/kubelet.key" --client-ca "$pki/ca.crt" \
  --state-dir "$run/standin" --volumes-dir "$volumes" --snapshots-dir "$snapshots" --repo "$repo" \
  --pod-ip-octet "$pod_ip_octet"
fi

wait_for "kube-controller-manager /healthz" curl -skf --max-time 2 "https://127.0.0.1:$kcm_port/healthz"
wait_for "kube-scheduler /healthz" curl -skf --max-time 2 "https://127.0.0.1:$scheduler_port/healthz"
nodes_ready() {
  local n
  for n in ${nodes//,/ }; do
    [ "$(kc get node "$n" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] || return 1
    # The node lifecycle controller removes the not-ready taint once it has seen the node Ready.
    ! kc get node "$n" -o 'jsonpath={.spec.taints[*].key}' 2>/dev/null | grep -q not-ready || return 1
  done
}
wait_for "nodes $nodes Ready" nodes_ready
wait_for "the default ServiceAccount" kc get serviceaccount default -n default
wait_for "the kube-root-ca.crt ConfigMap" kc get configmap kube-root-ca.crt -n default
for c in "${components[@]}"; do pid_alive "$run/$c.pid" || die "$c exited during start-up; see $run/$c.log"; done

log "cluster Ready ($cluster_node node) in $(( $(date +%s) - start ))s: kubectl --kubeconfig $kubeconfig get nodes"
echo "$kubeconfig"
