{{/*
Render-time refusals. Each qdrant.validateValues.<check> returns one message (or nothing) naming the values path
and the fix; qdrant.validateValues joins them and fails once, so a user sees every mistake in one run.
values.schema.json already refuses wrong types and enums; these are the rules a schema cannot express.
*/}}

{{/*
qdrant.validateValues: the aggregator. Included by qdrant-statefulset.yaml, which every render includes.
Usage: {{- include "qdrant.validateValues" . }}
*/}}
{{- define "qdrant.validateValues" -}}
{{- $messages := list }}
{{- $messages = append $messages (include "qdrant.validateValues.targetVersion" . | trim) }}
{{- $messages = append $messages (include "qdrant.validateValues.archiveLocation" . | trim) }}
{{- $messages = append $messages (include "qdrant.validateValues.ports" . | trim) }}
{{- $messages = append $messages (include "qdrant.validateValues.podDisruptionBudget" . | trim) }}
{{- $messages = append $messages (include "qdrant.validateValues.immutableStatefulSet" . | trim) }}
{{- $messages = append $messages (include "qdrant.validateValues.probePort" . | trim) }}
{{- $messages = append $messages (include "qdrant.validateValues.officialVolumes" . | trim) }}
{{- $messages = append $messages (include "qdrant.validateValues.snapshotRestoration" . | trim) }}
{{- $messages = append $messages (include "qdrant.validateValues.upgradeGuard" . | trim) }}
{{- $messages = without $messages "" }}
{{- if $messages }}
{{- printf "\nVALUES VALIDATION:\n%s" (join "\n" $messages) | fail }}
{{- end }}
{{- end }}

{{/*
qdrant.validateValues.targetVersion: the guard compares versions (one minor at a time, no downgrade:
https://qdrant.tech/documentation/guides/administration/#upgrading), so it needs a semver
target: the image tag, or upgradeGuard.targetVersion when the tag is not one (latest, dev, a digest...).
*/}}
{{- define "qdrant.validateValues.targetVersion" -}}
{{- if .Values.upgradeGuard.enabled }}
{{- $pattern := include "qdrant.version.semverPattern" . }}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- $target := .Values.upgradeGuard.targetVersion | toString }}
{{- if $target }}
{{- if not (regexMatch $pattern $target) }}
qdrant: upgradeGuard.targetVersion
    "{{ $target }}" is not a semver version. Set it to the Qdrant version image.tag runs, e.g. 1.13.5.
{{- end }}
{{- else if not (regexMatch $pattern $tag) }}
qdrant: image.tag
    "{{ $tag }}" is not a semver version, so the upgrade guard cannot tell which Qdrant version it deploys.
    Set upgradeGuard.targetVersion to the Qdrant version this tag runs (e.g. --set upgradeGuard.targetVersion=1.13.5),
    or turn the guard off with upgradeGuard.enabled=false.
{{- end }}
{{- end }}
{{- end }}

{{/*
qdrant.validateValues.archiveLocation: archives on the snapshots volume need that volume to be persistent.
*/}}
{{- define "qdrant.validateValues.archiveLocation" -}}
{{- if and .Values.upgradeGuard.enabled (eq .Values.upgradeGuard.archive.location "snapshots") (not .Values.snapshotPersistence.enabled) }}
qdrant: upgradeGuard.archive.location
    "snapshots" keeps raft-state archives on the snapshots volume, but snapshotPersistence.enabled is false
    (an emptyDir would lose them). Set snapshotPersistence.enabled=true or upgradeGuard.archive.location=storage.
{{- end }}
{{- end }}

{{/*
qdrant.validateValues.ports: probes use the port named http; peers reach each other on config.cluster.p2p.port,
which the p2p port must match.
*/}}
{{- define "qdrant.validateValues.ports" -}}
{{- $byName := dict }}
{{- range .Values.service.ports }}
{{- $_ := set $byName .name . }}
{{- end }}
{{- if not (hasKey $byName "http") }}
qdrant: service.ports
    no port is named "http"; Qdrant's REST port (6333) must be, the probes and the guard use it.
{{- end }}
{{- if and (eq (include "qdrant.cluster.enabled" .) "true") (hasKey $byName "p2p") }}
{{- $p2p := get $byName "p2p" }}
{{- if ne (int $p2p.targetPort) (int (include "qdrant.p2p.port" .)) }}
qdrant: service.ports
    the p2p port's targetPort ({{ $p2p.targetPort }}) differs from config.cluster.p2p.port ({{ include "qdrant.p2p.port" . }});
    make them equal.
{{- end }}
{{- else if eq (include "qdrant.cluster.enabled" .) "true" }}
qdrant: service.ports
    no port is named "p2p" while config.cluster.enabled is true; peers need it ({{ include "qdrant.p2p.port" . }}).
{{- end }}
{{- end }}

{{/*
qdrant.validateValues.podDisruptionBudget: a PodDisruptionBudget takes maxUnavailable or minAvailable, not both. A
falsy one (0, "", null) is left out, as the official chart does, so only two set ones are refused.
*/}}
{{- define "qdrant.validateValues.podDisruptionBudget" -}}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled $pdb.maxUnavailable $pdb.minAvailable }}
qdrant: podDisruptionBudget
    maxUnavailable ({{ $pdb.maxUnavailable }}) and minAvailable ({{ $pdb.minAvailable }}) are both set; Kubernetes takes one
    (https://kubernetes.io/docs/tasks/run-application/configure-pdb/). Set maxUnavailable=null to use minAvailable.
{{- end }}
{{- end }}

{{/*
qdrant.quantity.bytes: a Kubernetes quantity ("10Gi", "500M", "1.5Ti", "1e3") as a float number of bytes, so that
"1024Mi" and "1Gi" (the API server's canonical form) compare equal. An unparsable string is returned as is.
Usage: {{ include "qdrant.quantity.bytes" "10Gi" }}
*/}}
{{- define "qdrant.quantity.bytes" -}}
{{- $q := toString . }}
{{- if regexMatch `^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$` $q }}
{{- $num := regexReplaceAll `^([0-9]+(\.[0-9]+)?).*$` $q "${1}" }}
{{- $suffix := regexReplaceAll `^[0-9]+(\.[0-9]+)?` $q "" }}
{{- $factors := dict "" 1.0 "m" 0.001 "k" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0 "P" 1000000000000000.0 "E" 1000000000000000000.0 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 }}
{{- mulf (float64 $num) (get $factors $suffix) }}
{{- else }}
{{- $q }}
{{- end }}
{{- end }}

{{/*
qdrant.validateValues.immutableStatefulSet: Kubernetes refuses any change to a StatefulSet's selector,
serviceName, podManagementPolicy or volumeClaimTemplates (qdrant-helm#139). Helm would only find out after the
pre-upgrade hook ran, with an opaque API error; compare with the live object (lookup; empty under helm template
and client dry-run) and refuse up front with the documented procedure.
*/}}
{{- define "qdrant.validateValues.immutableStatefulSet" -}}
{{- $name := include "qdrant.fullname" . }}
{{- $live := lookup "apps/v1" "StatefulSet" .Release.Namespace $name | default dict }}
{{- if $live.spec }}
{{- $spec := $live.spec }}
{{- $changes := list }}
{{- if ne (toString ($spec.podManagementPolicy | default "OrderedReady")) (toString .Values.podManagementPolicy) }}
{{- $changes = append $changes (printf "podManagementPolicy: live %s, rendered %s" ($spec.podManagementPolicy | default "OrderedReady") .Values.podManagementPolicy) }}
{{- end }}
{{- if ne (toString $spec.serviceName) (include "qdrant.headlessServiceName" .) }}
{{- $changes = append $changes (printf "serviceName: live %s, rendered %s" $spec.serviceName (include "qdrant.headlessServiceName" .)) }}
{{- end }}
{{- $liveSelector := toJson (($spec.selector | default dict).matchLabels | default dict) }}
{{- $selector := include "qdrant.selectorLabels" . | fromYaml | toJson }}
{{- if ne $liveSelector $selector }}
{{- $changes = append $changes (printf "selector.matchLabels: live %s, rendered %s" $liveSelector $selector) }}
{{- end }}
{{- $want := dict "qdrant-storage" .Values.persistence }}
{{- if .Values.snapshotPersistence.enabled }}
{{- $_ := set $want "qdrant-snapshots" .Values.snapshotPersistence }}
{{- end }}
{{- $have := dict }}
{{- range ($spec.volumeClaimTemplates | default list) }}
{{- $_ := set $have .metadata.name . }}
{{- end }}
{{- if ne (keys $have | sortAlpha | join ",") (keys $want | sortAlpha | join ",") }}
{{- $changes = append $changes (printf "volumeClaimTemplates: live [%s], rendered [%s]" (keys $have | sortAlpha | join ",") (keys $want | sortAlpha | join ",")) }}
{{- else }}
{{- range $claim, $p := $want }}
{{- $vct := get $have $claim }}
{{- $liveStorage := toString ((($vct.spec.resources | default dict).requests | default dict).storage | default "") }}
{{- if ne (include "qdrant.quantity.bytes" $liveStorage) (include "qdrant.quantity.bytes" $p.size) }}
{{- $changes = append $changes (printf "volumeClaimTemplates[%s] size: live %s, rendered %s" $claim $liveStorage (toString $p.size)) }}
{{- end }}
{{- $wantClass := ternary "" (toString $p.storageClassName) (eq (toString $p.storageClassName) "-") }}
{{- if ne (toString ($vct.spec.storageClassName | default "")) $wantClass }}
{{- $changes = append $changes (printf "volumeClaimTemplates[%s] storageClassName: live %q, rendered %q" $claim (toString ($vct.spec.storageClassName | default "")) $wantClass) }}
{{- end }}
{{- if ne (toJson ($vct.spec.accessModes | default list)) (toJson $p.accessModes) }}
{{- $changes = append $changes (printf "volumeClaimTemplates[%s] accessModes: live %s, rendered %s" $claim (toJson $vct.spec.accessModes) (toJson $p.accessModes)) }}
{{- end }}
{{- end }}
{{- end }}
{{- if $changes }}
qdrant: StatefulSet {{ $name }}
    these fields cannot change on an existing StatefulSet, and Kubernetes would refuse the upgrade:
{{- range $changes }}
      - {{ . }}
{{- end }}
    To apply them, delete the StatefulSet but keep its pods and volumes, then upgrade again:
      kubectl delete statefulset {{ $name }} --namespace {{ .Release.Namespace }} --cascade=orphan
      helm upgrade {{ .Release.Name }} ... (same values)
    The new StatefulSet adopts the running pods and PVCs. A volume claim template change applies to new PVCs
    only; resize existing PVCs separately.
{{- end }}
{{- end }}
{{- end }}

{{/*
qdrant.validateValues.probePort: the probes check the one service port with checksEnabled. The official chart
renders one probe per such port, so two of them give a container two probes of one kind, and p2p gives a probe
without a handler; the API server refuses both half-way through the upgrade.
*/}}
{{- define "qdrant.validateValues.probePort" -}}
{{- $checked := list }}
{{- range .Values.service.ports }}
{{- if .checksEnabled }}
{{- $checked = append $checked .name }}
{{- end }}
{{- end }}
{{- if gt (len $checked) 1 }}
qdrant: service.ports[].checksEnabled
    is true on {{ join ", " $checked }}; the probes can check one port. Keep checksEnabled on http (or grpc) only.
{{- else if and $checked (not (has (first $checked) (list "http" "grpc"))) }}
qdrant: service.ports[].checksEnabled
    is true on {{ first $checked }}; the probes check http (HTTP GET) or grpc (gRPC health check). Move checksEnabled
    to the http port.
{{- end }}
{{- end }}

{{/*
qdrant.validateValues.officialVolumes: the official chart's volume-name and subPath keys. The upgrade guard finds each
peer's volume by its claim name (qdrant-storage-<pod>, qdrant-snapshots-<pod>) and reads the raft state at the root
of the storage volume, and a claim template cannot be renamed on a live StatefulSet; so only the defaults are
supported. The chart README ("Moving over from the official chart") says what to do instead.
*/}}
{{- define "qdrant.validateValues.officialVolumes" -}}
{{- $help := "See the chart README (helm show readme), section: Moving over from the official chart." }}
{{- with .Values.persistence.storageVolumeName }}
{{- if ne . "qdrant-storage" }}
qdrant: persistence.storageVolumeName
    "{{ . }}" is not supported: the upgrade guard finds the storage volumes by the claim name qdrant-storage.
    Remove the key (a new release gets qdrant-storage). A release whose claims already use another name cannot
    move to this chart in place (Kubernetes cannot rename a claim template): keep it on the official chart. {{ $help }}
{{- end }}
{{- end }}
{{- with .Values.persistence.storageSubPath }}
qdrant: persistence.storageSubPath
    "{{ . }}" is not supported: the upgrade guard reads the raft state at the root of the qdrant-storage volume.
    Remove the key and keep Qdrant's storage at the volume root; to move existing data, copy it out of the
    sub-directory first. {{ $help }}
{{- end }}
{{- with .Values.snapshotPersistence.snapshotsVolumeName }}
{{- if ne . "qdrant-snapshots" }}
qdrant: snapshotPersistence.snapshotsVolumeName
    "{{ . }}" is not supported: the snapshots volume is named qdrant-snapshots (the upgrade guard can archive to it).
    Remove the key. {{ $help }}
{{- end }}
{{- end }}
{{- with .Values.snapshotPersistence.snapshotsSubPath }}
qdrant: snapshotPersistence.snapshotsSubPath
    "{{ . }}" is not supported: the snapshots volume is mounted whole at /qdrant/snapshots. Remove the key; to keep
    snapshots in a directory of their own, set config.storage.snapshots_path (e.g. /qdrant/snapshots/{{ . }}). {{ $help }}
{{- end }}
{{- end }}

{{/*
qdrant.validateValues.snapshotRestoration: the restoration volume must not hide the storage or snapshots mounts.
*/}}
{{- define "qdrant.validateValues.snapshotRestoration" -}}
{{- $r := .Values.snapshotRestoration }}
{{- if and $r.enabled $r.pvcName (has (trimSuffix "/" $r.mountPath) (list "/qdrant/storage" "/qdrant/snapshots" "/qdrant" "/qdrant/config" "/qdrant/init")) }}
qdrant: snapshotRestoration.mountPath
    "{{ $r.mountPath }}" would hide a volume Qdrant needs. Use a path of its own, e.g. /qdrant/snapshot-restoration.
{{- end }}
{{- end }}

{{/*
qdrant.validateValues.valuesOrigin: `helm upgrade --reuse-values` renders the new chart with the previous release's
chart defaults (Helm's reuseValues replaces the chart's values with the old ones, coalesced), so after a move from
another chart, the official one included, none of this chart's own defaults are there and every template would
fail on a missing key. Say so, with the two recipes that work. Rendered first (templates/validate/), before any
template reads those keys.
*/}}
{{- define "qdrant.validateValues.valuesOrigin" -}}
{{- if not (hasKey .Values "upgradeGuard") }}
{{- printf "\nVALUES VALIDATION:\nqdrant: values\n    these values hold none of this chart's own defaults (upgradeGuard is missing): they come from the chart this\n    release ran before, which `helm upgrade --reuse-values` keeps when the chart changes (a move from the official\n    chart does that). Upgrade with your values file (-f values.yaml) or with --reset-then-reuse-values instead.\n    See the chart README (helm show readme), section: Moving over from the official chart." | fail }}
{{- end }}
{{- end }}
