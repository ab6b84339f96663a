{{/*
Helpers of the upgrade guard: hook names, labels, annotations, the hardened security contexts every guard
container shares, and the render-time decisions (target version, staged rollout, deadlines).
*/}}

{{/*
qdrant.upgradeGuard.name: name of one guard component's objects (Job or Pod, ServiceAccount, Role, RoleBinding
share it; they are different kinds). Components: pre-upgrade, post-upgrade, test.
Usage: {{ include "qdrant.upgradeGuard.name" (dict "root" . "component" "pre-upgrade") }}
*/}}
{{- define "qdrant.upgradeGuard.name" -}}
{{- printf "%s-guard-%s" (include "qdrant.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
qdrant.upgradeGuard.recordName: the record ConfigMap the hooks write (per release, fixed by the CLI's contract).
Usage: {{ include "qdrant.upgradeGuard.recordName" . }}
*/}}
{{- define "qdrant.upgradeGuard.recordName" -}}
{{- printf "%s-upgrade-guard" .Release.Name }}
{{- end }}

{{/*
qdrant.upgradeGuard.labels: labels of guard objects and pods. They deliberately do not carry Qdrant's selector
labels: a hook pod must never be selected by the Qdrant Services, the PodDisruptionBudget or the StatefulSet.
Usage: {{ include "qdrant.upgradeGuard.labels" (dict "root" . "component" "pre-upgrade") | nindent 4 }}
*/}}
{{- define "qdrant.upgradeGuard.labels" -}}
app.kubernetes.io/name: {{ printf "%s-upgrade-guard" (include "qdrant.name" .root) }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{ include "qdrant.labels.common" .root }}
{{- end }}

{{/*
qdrant.upgradeGuard.hookAnnotations: Helm hook annotations. RBAC objects get weights -10/-9/-8 (ServiceAccount,
Role, RoleBinding) so they exist before the Job or Pod (weight 0) that uses them; all are hooks of the same event
because during pre-upgrade the release's own objects are still the old revision's. before-hook-creation (not
hook-succeeded) keeps a finished Job and its logs until the next upgrade. The log policy streams the hook's logs
to the helm client (Helm 3.18+ and 4; older Helm ignores the annotation).
Usage: {{- include "qdrant.upgradeGuard.hookAnnotations" (dict "hook" "pre-upgrade" "weight" -10) | nindent 4 }}
*/}}
{{- define "qdrant.upgradeGuard.hookAnnotations" -}}
helm.sh/hook: {{ .hook }}
helm.sh/hook-weight: {{ .weight | toString | quote }}
helm.sh/hook-delete-policy: before-hook-creation
{{- if .logs }}
helm.sh/hook-output-log-policy: hook-failed,hook-succeeded
{{- end }}
{{- end }}

{{/*
qdrant.upgradeGuard.image: the qdrant-upgrade-guard image reference.
Usage: image: {{ include "qdrant.upgradeGuard.image" . | quote }}
*/}}
{{- define "qdrant.upgradeGuard.image" -}}
{{- printf "%s:%s" .Values.upgradeGuard.image.repository (toString .Values.upgradeGuard.image.tag) }}
{{- end }}

{{/*
qdrant.upgradeGuard.targetVersion: the Qdrant version this render deploys: upgradeGuard.targetVersion when set,
else the image tag (default appVersion) without its leading "v". qdrant.validateValues refuses a tag that is not
semver when targetVersion is empty, so the CLI always gets a version.
Usage: {{ include "qdrant.upgradeGuard.targetVersion" . | quote }}
*/}}
{{- define "qdrant.upgradeGuard.targetVersion" -}}
{{- if .Values.upgradeGuard.targetVersion }}
{{- .Values.upgradeGuard.targetVersion | toString | trimPrefix "v" }}
{{- else }}
{{- .Values.image.tag | default .Chart.AppVersion | toString | trimPrefix "v" }}
{{- end }}
{{- end }}

{{/*
qdrant.upgradeGuard.userPartition: "true" when the user set updateStrategy.rollingUpdate.partition themselves.
Usage: {{ if eq (include "qdrant.upgradeGuard.userPartition" .) "true" }}
*/}}
{{- define "qdrant.upgradeGuard.userPartition" -}}
{{- $ru := .Values.updateStrategy.rollingUpdate | default dict }}
{{- and (hasKey $ru "partition") (not (kindIs "invalid" $ru.partition)) }}
{{- end }}

{{/*
qdrant.upgradeGuard.stagingConfigured: "true" when the values ask for a staged rollout and it can work:
the guard and its post-upgrade Job are on (nothing else would lower the partition), stagedRollout.enabled, the
strategy is RollingUpdate and the user did not set a partition. Says nothing about whether this render is an upgrade.
Usage: {{ if eq (include "qdrant.upgradeGuard.stagingConfigured" .) "true" }}
*/}}
{{- define "qdrant.upgradeGuard.stagingConfigured" -}}
{{- $g := .Values.upgradeGuard }}
{{- $on := and $g.enabled $g.postUpgrade.enabled $g.stagedRollout.enabled }}
{{- $rolling := eq (toString .Values.updateStrategy.type) "RollingUpdate" }}
{{- and $on $rolling (ne (include "qdrant.upgradeGuard.userPartition" .) "true") }}
{{- end }}

{{/*
qdrant.upgradeGuard.staged: "true" when this render stages the rollout: staging is configured and this is an
upgrade. Then the StatefulSet gets partition = replicaCount and post-upgrade lowers it one peer at a time.
An install starts every pod fresh, so there is nothing to stage.
Usage: {{ if eq (include "qdrant.upgradeGuard.staged" .) "true" }}
*/}}
{{- define "qdrant.upgradeGuard.staged" -}}
{{- and (eq (include "qdrant.upgradeGuard.stagingConfigured" .) "true") .Release.IsUpgrade }}
{{- end }}

{{/*
qdrant.upgradeGuard.stagedPartition: the partition a staged upgrade renders. Normally replicaCount, so the new
revision restarts no existing pod. When the live StatefulSet (lookup) has fewer replicas, i.e. the upgrade also
scales up, the partition is the live count: the new ordinals then start once, on the new revision, instead of
starting on the old one and being restarted by the rollout. Without cluster access (helm template) lookup finds
nothing and replicaCount is used.
Usage: partition: {{ include "qdrant.upgradeGuard.stagedPartition" . }}
*/}}
{{- define "qdrant.upgradeGuard.stagedPartition" -}}
{{- $live := lookup "apps/v1" "StatefulSet" .Release.Namespace (include "qdrant.fullname" .) }}
{{- $replicas := int .Values.replicaCount }}
{{- if and $live $live.spec (hasKey $live.spec "replicas") }}
{{- $replicas = min $replicas (int $live.spec.replicas) }}
{{- end }}
{{- $replicas }}
{{- end }}

{{/*
qdrant.upgradeGuard.preUpgradeDeadline: activeDeadlineSeconds of the pre-upgrade Job: the CLI's own timeout plus
30 s, so the CLI reports a timeout verdict itself before Kubernetes kills the Job. Helm's --timeout must be above
it (the default 5m is, for the default 240 s).
Usage: {{ include "qdrant.upgradeGuard.preUpgradeDeadline" . }}
*/}}
{{- define "qdrant.upgradeGuard.preUpgradeDeadline" -}}
{{- add (int .Values.upgradeGuard.preUpgrade.timeoutSeconds) 30 }}
{{- end }}

{{/*
qdrant.upgradeGuard.postUpgradeBudget: seconds the post-upgrade verification may take. A staged rollout walks the
peers one by one, so its budget grows with replicaCount:
  max(postUpgrade.timeoutSeconds, replicaCount * stagedRollout.perPeerSeconds + 60)
Otherwise it is postUpgrade.timeoutSeconds. `staged` says which case ("true"/"false").
Usage: {{ include "qdrant.upgradeGuard.postUpgradeBudget" (dict "root" . "staged" (include "qdrant.upgradeGuard.staged" .)) }}
*/}}
{{- define "qdrant.upgradeGuard.postUpgradeBudget" -}}
{{- $g := .root.Values.upgradeGuard }}
{{- $budget := int $g.postUpgrade.timeoutSeconds }}
{{- if eq .staged "true" }}
{{- $budget = max $budget (add (mul (int .root.Values.replicaCount) (int $g.stagedRollout.perPeerSeconds)) 60) }}
{{- end }}
{{- $budget }}
{{- end }}

{{/*
qdrant.upgradeGuard.postUpgradeDeadline: activeDeadlineSeconds of the post-upgrade Job (budget + 30 s), for this
render (`staged` as in postUpgradeBudget). Helm's --timeout must be above it; NOTES.txt prints the figure.
Usage: {{ include "qdrant.upgradeGuard.postUpgradeDeadline" (dict "root" . "staged" (include "qdrant.upgradeGuard.staged" .)) }}
*/}}
{{- define "qdrant.upgradeGuard.postUpgradeDeadline" -}}
{{- add (int (include "qdrant.upgradeGuard.postUpgradeBudget" .)) 30 }}
{{- end }}

{{/*
qdrant.upgradeGuard.podSecurityContext: pod security context of every guard pod: Qdrant's uid/gid 1000 (so the
files it reads and the archives it writes match Qdrant's), never root, RuntimeDefault seccomp. Not configurable.
Usage: {{- include "qdrant.upgradeGuard.podSecurityContext" . | nindent 6 }}
*/}}
{{- define "qdrant.upgradeGuard.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{/*
qdrant.upgradeGuard.containerSecurityContext: container security context of every guard container (hook Jobs,
test pod, startup check): non-root, read-only root filesystem, no privilege escalation, all capabilities dropped,
RuntimeDefault seccomp. Not configurable.
Usage: {{- include "qdrant.upgradeGuard.containerSecurityContext" . | nindent 10 }}
*/}}
{{- define "qdrant.upgradeGuard.containerSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  privileged: false
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{/*
qdrant.upgradeGuard.commonArgs: the flags every cluster-level command takes (pre-upgrade, post-upgrade, verify);
qdrant.upgradeGuard.qdrantArgs (how they reach Qdrant) comes last in each args list.
Usage: {{- include "qdrant.upgradeGuard.commonArgs" . | nindent 12 }}
*/}}
{{- define "qdrant.upgradeGuard.commonArgs" -}}
- --namespace
- {{ .Release.Namespace | quote }}
- --release
- {{ .Release.Name | quote }}
- --statefulset
- {{ include "qdrant.fullname" . | quote }}
- --target-version
- {{ include "qdrant.upgradeGuard.targetVersion" . | quote }}
{{- end }}

{{/*
qdrant.upgradeGuard.podSpecCommon: the parts of a guard pod spec that do not depend on the command: pull secrets,
security context, a writable /tmp (the root filesystem is read-only) and, with TLS on, the volume holding Qdrant's CA.
Usage: {{- include "qdrant.upgradeGuard.podSpecCommon" . | nindent 6 }}
*/}}
{{- define "qdrant.upgradeGuard.podSpecCommon" -}}
{{ include "qdrant.upgradeGuard.podSecurityContext" . }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
  {{- with include "qdrant.upgradeGuard.tlsVolume" . }}
  {{- . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
qdrant.upgradeGuard.serviceAccount: the ServiceAccount of one guard component, a hook of the component's event at
weight -10. The token is mounted: the guard talks to the Kubernetes API.
Usage: {{ include "qdrant.upgradeGuard.serviceAccount" (dict "root" . "component" "pre-upgrade" "hook" "pre-upgrade") }}
*/}}
{{- define "qdrant.upgradeGuard.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "qdrant.upgradeGuard.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "qdrant.upgradeGuard.labels" . | nindent 4 }}
  annotations:
    {{- include "qdrant.upgradeGuard.hookAnnotations" (dict "hook" .hook "weight" -10) | nindent 4 }}
automountServiceAccountToken: true
{{- end }}

{{/*
qdrant.upgradeGuard.roleBinding: binds one guard component's Role to its ServiceAccount; a hook at weight -8.
Usage: {{ include "qdrant.upgradeGuard.roleBinding" (dict "root" . "component" "pre-upgrade" "hook" "pre-upgrade") }}
*/}}
{{- define "qdrant.upgradeGuard.roleBinding" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ include "qdrant.upgradeGuard.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "qdrant.upgradeGuard.labels" . | nindent 4 }}
  annotations:
    {{- include "qdrant.upgradeGuard.hookAnnotations" (dict "hook" .hook "weight" -8) | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "qdrant.upgradeGuard.name" . }}
subjects:
  - kind: ServiceAccount
    name: {{ include "qdrant.upgradeGuard.name" . }}
    namespace: {{ .root.Release.Namespace }}
{{- end }}

{{/*
qdrant.upgradeGuard.roleMetadata: metadata of one guard component's Role, a hook at weight -9.
Usage: {{- include "qdrant.upgradeGuard.roleMetadata" (dict "root" . "component" "test" "hook" "test") }}
*/}}
{{- define "qdrant.upgradeGuard.roleMetadata" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "qdrant.upgradeGuard.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "qdrant.upgradeGuard.labels" . | nindent 4 }}
  annotations:
    {{- include "qdrant.upgradeGuard.hookAnnotations" (dict "hook" .hook "weight" -9) | nindent 4 }}
{{- end }}

{{/*
qdrant.upgradeGuard.podNames: the names of the Qdrant pods (`<fullname>-<ordinal>`) as a YAML flow list, for the
rules that read a pod by name (pods/log). Every ordinal that may exist while a hook runs: max(replicaCount, the live
replica count), so an upgrade that scales down still reads the logs of the pods it removes.
Usage: resourceNames: {{ include "qdrant.upgradeGuard.podNames" . }}
*/}}
{{- define "qdrant.upgradeGuard.podNames" -}}
{{- $fullname := include "qdrant.fullname" . }}
{{- $replicas := int .Values.replicaCount }}
{{- $live := lookup "apps/v1" "StatefulSet" .Release.Namespace $fullname }}
{{- if and $live $live.spec (hasKey $live.spec "replicas") }}
{{- $replicas = int (max $replicas (int $live.spec.replicas)) }}
{{- end }}
{{- $names := list }}
{{- range $i := until $replicas }}
{{- $names = append $names (printf "%s-%d" $fullname $i) }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/*
qdrant.upgradeGuard.rule.statefulset / .record: the two name-scoped rules the guard Roles share: the Qdrant
StatefulSet and the record ConfigMap, by name. `verbs` is a list.
Usage: {{- include "qdrant.upgradeGuard.rule.statefulset" (dict "root" . "verbs" (list "get")) | nindent 2 }}
*/}}
{{- define "qdrant.upgradeGuard.rule.statefulset" -}}
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  resourceNames: [{{ include "qdrant.fullname" .root | quote }}]
  verbs: {{ toJson .verbs }}
{{- end }}

{{- define "qdrant.upgradeGuard.rule.record" -}}
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: [{{ include "qdrant.upgradeGuard.recordName" .root | quote }}]
  verbs: {{ toJson .verbs }}
{{- end }}

{{/*
qdrant.upgradeGuard.httpPort: the port Qdrant's REST API listens on, which the hooks dial on each pod IP:
config.service.http_port when set (what Qdrant reads), else 6333 (Qdrant's default).
qdrant.validateValues.upgradeGuard refuses a `service.ports` http targetPort that differs from it.
Usage: {{ include "qdrant.upgradeGuard.httpPort" . }}
*/}}
{{- define "qdrant.upgradeGuard.httpPort" -}}
{{- $svc := .Values.config.service | default dict }}
{{- if $svc.http_port }}{{ int $svc.http_port }}{{ else }}6333{{ end }}
{{- end }}

{{/*
qdrant.upgradeGuard.tls: how the hooks reach Qdrant over TLS, as JSON: {"enabled", "caFile", "volume", "mount",
"error"}. Enabled with config.service.enable_tls. The CA is config.tls.ca_cert (the file Qdrant itself is given);
the volume that holds it is the additionalVolumes entry whose additionalVolumeMounts mountPath contains that path,
and the hook pods mount the same volume at the same path, read-only. Without ca_cert the system trust store is used.
Usage: {{ $tls := include "qdrant.upgradeGuard.tls" . | fromJson }}
*/}}
{{- define "qdrant.upgradeGuard.tls" -}}
{{- $out := dict "enabled" false "caFile" "" "error" "" }}
{{- if eq (toString ((.Values.config.service | default dict).enable_tls)) "true" }}
{{- $_ := set $out "enabled" true }}
{{- $ca := toString (((.Values.config.tls | default dict).ca_cert) | default "") }}
{{- if $ca }}
{{- $_ := set $out "caFile" $ca }}
{{- $mount := dict }}
{{- range .Values.additionalVolumeMounts }}
{{- $dir := trimSuffix "/" .mountPath }}
{{- if and (hasPrefix (printf "%s/" $dir) $ca) (not $mount) }}
{{- $mount = . }}
{{- end }}
{{- end }}
{{- if not $mount }}
{{- $_ := set $out "error" (printf "config.tls.ca_cert (%s) is not inside any additionalVolumeMounts mountPath: the upgrade-guard hooks mount the same volume to verify Qdrant's certificate. Mount the Secret holding the CA through additionalVolumes + additionalVolumeMounts (e.g. at /qdrant/tls), or set upgradeGuard.qdrantTls.insecureSkipVerify=true (not recommended)." $ca) }}
{{- else }}
{{- $volume := dict }}
{{- range .Values.additionalVolumes }}
{{- if eq .name $mount.name }}{{ $volume = . }}{{ end }}
{{- end }}
{{- if not $volume }}
{{- $_ := set $out "error" (printf "additionalVolumeMounts %s (holding config.tls.ca_cert) names no volume in additionalVolumes" $mount.name) }}
{{- else }}
{{- $_ := set $out "volume" (merge (dict "name" "upgrade-guard-qdrant-tls") (omit $volume "name")) }}
{{- $_ := set $out "mount" (dict "name" "upgrade-guard-qdrant-tls" "mountPath" $mount.mountPath "readOnly" true) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
qdrant.upgradeGuard.qdrantArgs: how the cluster commands reach Qdrant: scheme, port, CA, and the skip-verify flag
when upgradeGuard.qdrantTls.insecureSkipVerify is set (every report then says so).
Usage: {{- include "qdrant.upgradeGuard.qdrantArgs" . | nindent 12 }} (at the end of args)
*/}}
{{- define "qdrant.upgradeGuard.qdrantArgs" -}}
{{- $tls := include "qdrant.upgradeGuard.tls" . | fromJson -}}
- --qdrant-scheme
- {{ ternary "https" "http" $tls.enabled | quote }}
- --qdrant-port
- {{ include "qdrant.upgradeGuard.httpPort" . | quote }}
{{- if and $tls.enabled (not .Values.upgradeGuard.qdrantTls.insecureSkipVerify) $tls.caFile }}
- --qdrant-ca-file
- {{ $tls.caFile | quote }}
{{- end }}
{{- if and $tls.enabled .Values.upgradeGuard.qdrantTls.insecureSkipVerify }}
- --qdrant-insecure-skip-verify
{{- end }}
{{- end }}

{{/*
qdrant.upgradeGuard.tlsVolume / tlsMount: the CA volume and its mount in a hook pod that talks to Qdrant, or nothing.
Usage: {{- include "qdrant.upgradeGuard.tlsMount" . | nindent 12 }}
*/}}
{{- define "qdrant.upgradeGuard.tlsVolume" -}}
{{- $tls := include "qdrant.upgradeGuard.tls" . | fromJson }}
{{- if and $tls.enabled $tls.volume (not .Values.upgradeGuard.qdrantTls.insecureSkipVerify) }}
{{- list $tls.volume | toYaml }}
{{- end }}
{{- end }}

{{- define "qdrant.upgradeGuard.tlsMount" -}}
{{- $tls := include "qdrant.upgradeGuard.tls" . | fromJson }}
{{- if and $tls.enabled $tls.mount (not .Values.upgradeGuard.qdrantTls.insecureSkipVerify) }}
{{- list $tls.mount | toYaml }}
{{- end }}
{{- end }}

{{/*
qdrant.validateValues.upgradeGuard: what the guard cannot work with, refused at render time (included by the
aggregator in _validate.tpl):
- TLS on with a CA the hooks cannot mount (qdrant.upgradeGuard.tls);
- service.verify_https_client_certificate: Qdrant then wants a client certificate the hooks do not have;
- an http targetPort other than the port Qdrant listens on (the hooks dial the latter);
- ReadWriteOncePod storage: a worker pod cannot mount a volume the Qdrant pod holds, so pre-upgrade could never
  archive it and restore-volume could never reach it.
Usage: {{ include "qdrant.validateValues.upgradeGuard" . }}
*/}}
{{- define "qdrant.validateValues.upgradeGuard" -}}
{{- if .Values.upgradeGuard.enabled }}
{{- $messages := list }}
{{- $tls := include "qdrant.upgradeGuard.tls" . | fromJson }}
{{- if and $tls.error (not .Values.upgradeGuard.qdrantTls.insecureSkipVerify) }}
{{- $messages = append $messages (printf "upgradeGuard: %s" $tls.error) }}
{{- end }}
{{- if and $tls.enabled (eq (toString ((.Values.config.service | default dict).verify_https_client_certificate)) "true") }}
{{- $messages = append $messages "upgradeGuard: config.service.verify_https_client_certificate=true makes Qdrant require a client certificate on the REST port, which the upgrade-guard hooks do not present. Turn it off, or turn the guard off (upgradeGuard.enabled=false; docs/runbooks.md#turn-the-guard-off-in-an-emergency says what is lost)." }}
{{- end }}
{{- $port := include "qdrant.upgradeGuard.httpPort" . }}
{{- range .Values.service.ports }}
{{- if and (eq .name "http") (ne (toString (.targetPort | default .port)) $port) }}
{{- $messages = append $messages (printf "upgradeGuard: service.ports http targetPort is %v but Qdrant listens on %s (config.service.http_port, default 6333): set both to the same port; the probes and the upgrade-guard hooks use it." (.targetPort | default .port) $port) }}
{{- end }}
{{- end }}
{{- if and .Values.upgradeGuard.preUpgrade.enabled (or (has "ReadWriteOncePod" .Values.persistence.accessModes) (and .Values.snapshotPersistence.enabled (has "ReadWriteOncePod" .Values.snapshotPersistence.accessModes))) }}
{{- $messages = append $messages "upgradeGuard: persistence.accessModes (or snapshotPersistence.accessModes) has ReadWriteOncePod: only one pod may use such a volume, so the guard's worker pods could never read a volume its Qdrant pod holds (no archive before an upgrade, no in-cluster restore). Use ReadWriteOnce (the default), or set upgradeGuard.preUpgrade.enabled=false and lose the pre-upgrade checks and archives (the startup check and post-upgrade still run; docs/runbooks.md#turn-the-guard-off-in-an-emergency)." }}
{{- end }}
{{- join "\n" $messages }}
{{- end }}
{{- end }}
