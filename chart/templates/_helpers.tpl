{{/*
Names, labels and images. Every helper is `qdrant.<topic>.<thing>` (a few top-level ones keep the names
users of the official chart know: qdrant.name, qdrant.fullname, qdrant.labels, qdrant.selectorLabels).
*/}}

{{/*
qdrant.name: the chart name or nameOverride, for the app.kubernetes.io/name label.
Usage: {{ include "qdrant.name" . }}
*/}}
{{- define "qdrant.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
qdrant.fullname: prefix of every object name. Same rule as the official chart, so a release moved over from it
keeps its StatefulSet, Services and PVC names. Truncated to 52 so that "-headless" and pod ordinals still fit 63.
Usage: {{ include "qdrant.fullname" . }}
*/}}
{{- define "qdrant.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
qdrant.chart: chart name and version for the helm.sh/chart label.
Usage: {{ include "qdrant.chart" . }}
*/}}
{{- define "qdrant.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
qdrant.headlessServiceName: the governing (headless) Service of the StatefulSet; peers reach each other
as <fullname>-<ordinal>.<headless>. Immutable in the StatefulSet spec.
Usage: {{ include "qdrant.headlessServiceName" . }}
*/}}
{{- define "qdrant.headlessServiceName" -}}
{{- printf "%s-headless" (include "qdrant.fullname" .) }}
{{- end }}

{{/*
qdrant.selectorLabels: the labels the StatefulSet selects its pods by, identical to the official chart's so
that a release moved over from it keeps its (immutable) selector. Never add a label here that can change.
Usage: {{ include "qdrant.selectorLabels" . | nindent 4 }}
*/}}
{{- define "qdrant.selectorLabels" -}}
app: {{ include "qdrant.name" . }}
app.kubernetes.io/name: {{ include "qdrant.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
qdrant.labels.common: labels of every object (display only, may change between chart versions), without the
selector labels. Includes additionalLabels.
Usage: {{ include "qdrant.labels.common" . | nindent 4 }}
*/}}
{{- define "qdrant.labels.common" -}}
helm.sh/chart: {{ include "qdrant.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "qdrant.name" . }}
{{- range $key, $value := .Values.additionalLabels }}
{{ $key }}: {{ $value | quote }}
{{- end }}
{{- end }}

{{/*
qdrant.labels: labels of Qdrant's own objects: selector labels plus the common ones.
Usage: {{ include "qdrant.labels" . | nindent 4 }}
*/}}
{{- define "qdrant.labels" -}}
{{ include "qdrant.selectorLabels" . }}
{{ include "qdrant.labels.common" . }}
{{- end }}

{{/*
qdrant.annotations.common: additionalAnnotations merged with object-specific annotations, rendered as an
`annotations:` block or nothing. Hooks do not use it (their annotations are Helm's).
Usage: {{ include "qdrant.annotations.common" (dict "root" . "extra" .Values.service.annotations) | nindent 2 }}
*/}}
{{- define "qdrant.annotations.common" -}}
{{- $all := merge (deepCopy (.extra | default dict)) (deepCopy (.root.Values.additionalAnnotations | default dict)) }}
{{- with $all }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
qdrant.image: the Qdrant image reference. The tag defaults to appVersion; the unprivileged variant appends
"-unprivileged" (Qdrant publishes e.g. v1.13.5-unprivileged).
Usage: image: {{ include "qdrant.image" . | quote }}
*/}}
{{- define "qdrant.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- printf "%s:%s%s" .Values.image.repository $tag (ternary "-unprivileged" "" .Values.image.useUnprivilegedImage) }}
{{- end }}

{{/*
qdrant.serviceAccountName: the ServiceAccount of the Qdrant pods.
Usage: {{ include "qdrant.serviceAccountName" . }}
*/}}
{{- define "qdrant.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "qdrant.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
qdrant.p2p.uriScheme: scheme of the peer-to-peer URIs (https when config.cluster.p2p.enable_tls).
Usage: {{ include "qdrant.p2p.uriScheme" . }}
*/}}
{{- define "qdrant.p2p.uriScheme" -}}
{{- $p2p := (.Values.config.cluster | default dict).p2p | default dict }}
{{- ternary "https" "http" (eq (toString $p2p.enable_tls) "true") }}
{{- end }}

{{/*
qdrant.p2p.port: the peer-to-peer port (config.cluster.p2p.port, default 6335).
Usage: {{ include "qdrant.p2p.port" . }}
*/}}
{{- define "qdrant.p2p.port" -}}
{{- $p2p := (.Values.config.cluster | default dict).p2p | default dict }}
{{- $p2p.port | default 6335 | int }}
{{- end }}

{{/*
qdrant.cluster.enabled: "true" when Qdrant runs in distributed mode (config.cluster.enabled, true by default).
Usage: {{ if eq (include "qdrant.cluster.enabled" .) "true" }}
*/}}
{{- define "qdrant.cluster.enabled" -}}
{{- eq (toString (.Values.config.cluster | default dict).enabled) "true" }}
{{- end }}

{{/*
qdrant.http.scheme: probe scheme of the REST port (HTTPS when config.service.enable_tls).
Usage: scheme: {{ include "qdrant.http.scheme" . }}
*/}}
{{- define "qdrant.http.scheme" -}}
{{- ternary "HTTPS" "HTTP" (eq (toString (.Values.config.service | default dict).enable_tls) "true") }}
{{- end }}

{{/*
qdrant.storageClassName: renders the storageClassName line of a volume claim template, or nothing.
"" leaves it out (cluster default); "-" renders an empty class (no dynamic provisioning).
Usage: {{- include "qdrant.storageClassName" .Values.persistence | nindent 8 }}
*/}}
{{- define "qdrant.storageClassName" -}}
{{- if eq (toString .storageClassName) "-" }}
storageClassName: ""
{{- else if .storageClassName }}
storageClassName: {{ .storageClassName | quote }}
{{- end }}
{{- end }}

{{/*
qdrant.version.semverPattern: the SemVer 2.0 pattern, with the optional leading "v" Qdrant's tags carry.
Usage: {{ regexMatch (include "qdrant.version.semverPattern" .) $tag }}
*/}}
{{- define "qdrant.version.semverPattern" -}}
^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$
{{- end }}

{{/*
qdrant.probe.port: the service port the probes check, as YAML (name, targetPort), or {} when no port has
checksEnabled (then no probe is rendered, as in the official chart). qdrant.validateValues.probePort refuses more than
one, or one that is neither http nor grpc.
Usage: {{ $checked := include "qdrant.probe.port" . | fromYaml }}
*/}}
{{- define "qdrant.probe.port" -}}
{{- $checked := list }}
{{- range .Values.service.ports }}
{{- if .checksEnabled }}
{{- $checked = append $checked . }}
{{- end }}
{{- end }}
{{- with first $checked }}
name: {{ .name | quote }}
targetPort: {{ .targetPort }}
{{- else }}
{}
{{- end }}
{{- end }}

{{/*
qdrant.probe.timing: the timing fields of a probe value (livenessProbe, readinessProbe, startupProbe).
Usage: {{- include "qdrant.probe.timing" .Values.readinessProbe | nindent 12 }}
*/}}
{{- define "qdrant.probe.timing" -}}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
successThreshold: {{ .successThreshold }}
{{- end }}
