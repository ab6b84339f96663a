{{/*
API keys. `apiKey` and `readOnlyApiKey` take four forms, as in the official chart:
  false                                   no key
  true                                    generated once, then read back from the Secret on every upgrade
  "a string"                              that key
  {valueFrom: {secretKeyRef: {name, key}}} the user's own Secret, referenced (never copied into ours)
Qdrant gets the keys as environment variables from a secretKeyRef, so no key is ever a literal in a pod spec.
*/}}

{{/*
qdrant.apiKey.kind: classifies one value: none, generated, literal or external.
Usage: {{ include "qdrant.apiKey.kind" .Values.apiKey }}
*/}}
{{- define "qdrant.apiKey.kind" -}}
{{- if kindIs "map" . -}}
external
{{- else if kindIs "bool" . -}}
{{- ternary "generated" "none" . -}}
{{- else if and (kindIs "string" .) (ne . "") -}}
literal
{{- else -}}
none
{{- end -}}
{{- end }}

{{/*
qdrant.apiKey.secretName: the chart-managed Secret holding generated and literal keys (the official chart's name).
Usage: {{ include "qdrant.apiKey.secretName" . }}
*/}}
{{- define "qdrant.apiKey.secretName" -}}
{{- printf "%s-apikey" (include "qdrant.fullname" .) }}
{{- end }}

{{/*
qdrant.apiKey.managedSecret: "true" when the chart renders its Secret: whenever a key is set, in any form, as the
official chart does (qdrant.apiKey.localYaml says why an external key needs it too).
Usage: {{ if eq (include "qdrant.apiKey.managedSecret" .) "true" }}
*/}}
{{- define "qdrant.apiKey.managedSecret" -}}
{{- $kinds := list (include "qdrant.apiKey.kind" .Values.apiKey) (include "qdrant.apiKey.kind" .Values.readOnlyApiKey) }}
{{- or (ne (index $kinds 0) "none") (ne (index $kinds 1) "none") }}
{{- end }}

{{/*
qdrant.apiKey.externalValue: the plain value of a key kept in the user's own Secret, read (lookup) from it; empty
when that Secret or key is not there (or under helm template). Only for the Secret's copy the official chart keeps.
Usage: {{ include "qdrant.apiKey.externalValue" (dict "root" . "value" .Values.apiKey) }}
*/}}
{{- define "qdrant.apiKey.externalValue" -}}
{{- $ref := .value.valueFrom.secretKeyRef }}
{{- $live := lookup "v1" "Secret" .root.Release.Namespace $ref.name | default dict }}
{{- get (get $live "data" | default dict) $ref.key | default "" | b64dec }}
{{- end }}

{{/*
qdrant.apiKey.localYaml: the data of the chart's Secret exactly as the official chart renders it: `api-key`,
`read-only-api-key` and `local.yaml` (Qdrant's config/local.yaml carrying the keys). Qdrant here takes its keys
from environment variables, but pods of a release migrated from the official chart mount `local.yaml` from this
Secret by subPath, and Qdrant treats config/local as optional: an old pod that restarts while the staged rollout has
not reached it yet would start without an API key if the key were gone. So the key is always served, with the same
content, and for a key in the user's own Secret the chart keeps the same copy the official chart keeps.
Usage: {{- include "qdrant.apiKey.localYaml" . | nindent 2 }}
*/}}
{{- define "qdrant.apiKey.localYaml" -}}
{{- $rw := "" }}
{{- $ro := "" }}
{{- if eq (include "qdrant.apiKey.kind" .Values.apiKey) "external" }}
{{- $rw = include "qdrant.apiKey.externalValue" (dict "root" . "value" .Values.apiKey) }}
{{- else }}
{{- $rw = include "qdrant.apiKey.secretValue" (dict "root" . "value" .Values.apiKey "dataKey" "api-key") }}
{{- end }}
{{- if eq (include "qdrant.apiKey.kind" .Values.readOnlyApiKey) "external" }}
{{- $ro = include "qdrant.apiKey.externalValue" (dict "root" . "value" .Values.readOnlyApiKey) }}
{{- else }}
{{- $ro = include "qdrant.apiKey.secretValue" (dict "root" . "value" .Values.readOnlyApiKey "dataKey" "read-only-api-key") }}
{{- end }}
{{- if and $rw $ro }}
api-key: {{ $rw | b64enc }}
read-only-api-key: {{ $ro | b64enc }}
local.yaml: {{ printf "service:\n  api_key: %s\n  read_only_api_key: %s" $rw $ro | b64enc }}
{{- else if $rw }}
api-key: {{ $rw | b64enc }}
local.yaml: {{ printf "service:\n  api_key: %s" $rw | b64enc }}
{{- else if $ro }}
read-only-api-key: {{ $ro | b64enc }}
local.yaml: {{ printf "service:\n  read_only_api_key: %s" $ro | b64enc }}
{{- end }}
{{- end }}

{{/*
qdrant.apiKey.checksum: a digest of how the keys are configured, for the pod template: a changed literal key, a
different external Secret or a change of form restarts Qdrant. Deterministic: a generated key is hashed as
"generated" (it never changes once drawn), so an install and the upgrades after it agree.
Usage: checksum/apikey: {{ include "qdrant.apiKey.checksum" . }}
*/}}
{{- define "qdrant.apiKey.checksum" -}}
{{- $forms := list }}
{{- range (list .Values.apiKey .Values.readOnlyApiKey) }}
{{- $kind := include "qdrant.apiKey.kind" . }}
{{- $forms = append $forms (ternary . $kind (has $kind (list "literal" "external"))) }}
{{- end }}
{{- toJson $forms | sha256sum }}
{{- end }}

{{/*
qdrant.apiKey.secretValue: the plain value of one chart-managed key. A generated key is read back from the live
Secret (lookup) so it survives upgrades; only when there is none yet (install, or no cluster: helm template)
is a new one drawn.
Usage: {{ include "qdrant.apiKey.secretValue" (dict "root" . "value" .Values.apiKey "dataKey" "api-key") }}
*/}}
{{- define "qdrant.apiKey.secretValue" -}}
{{- $kind := include "qdrant.apiKey.kind" .value }}
{{- if eq $kind "literal" }}
{{- .value }}
{{- else if eq $kind "generated" }}
{{- $live := lookup "v1" "Secret" .root.Release.Namespace (include "qdrant.apiKey.secretName" .root) | default dict }}
{{- $data := get $live "data" | default dict }}
{{- $existing := get $data .dataKey | default "" | b64dec }}
{{- $existing | default (randAlphaNum 32) }}
{{- end }}
{{- end }}

{{/*
qdrant.apiKey.secretKeyRef: the secretKeyRef (name, key) of one key, or nothing when that key is not set.
Usage: {{ include "qdrant.apiKey.secretKeyRef" (dict "root" . "value" .Values.apiKey "dataKey" "api-key") }}
*/}}
{{- define "qdrant.apiKey.secretKeyRef" -}}
{{- $kind := include "qdrant.apiKey.kind" .value }}
{{- if eq $kind "external" }}
name: {{ .value.valueFrom.secretKeyRef.name | quote }}
key: {{ .value.valueFrom.secretKeyRef.key | quote }}
{{- else if ne $kind "none" }}
name: {{ include "qdrant.apiKey.secretName" .root | quote }}
key: {{ .dataKey | quote }}
{{- end }}
{{- end }}

{{/*
qdrant.apiKey.qdrantEnv: the env entries that give Qdrant its keys (QDRANT__SERVICE__API_KEY,
QDRANT__SERVICE__READ_ONLY_API_KEY), each from a secretKeyRef.
Usage: {{- include "qdrant.apiKey.qdrantEnv" . | nindent 12 }}
*/}}
{{- define "qdrant.apiKey.qdrantEnv" -}}
{{- $rw := include "qdrant.apiKey.secretKeyRef" (dict "root" . "value" .Values.apiKey "dataKey" "api-key") }}
{{- $ro := include "qdrant.apiKey.secretKeyRef" (dict "root" . "value" .Values.readOnlyApiKey "dataKey" "read-only-api-key") }}
{{- if $rw }}
- name: QDRANT__SERVICE__API_KEY
  valueFrom:
    secretKeyRef:
      {{- $rw | nindent 6 }}
{{- end }}
{{- if $ro }}
- name: QDRANT__SERVICE__READ_ONLY_API_KEY
  valueFrom:
    secretKeyRef:
      {{- $ro | nindent 6 }}
{{- end }}
{{- end }}

{{/*
qdrant.apiKey.hookEnv: the keys of a hook or test container: QDRANT_READ_ONLY_API_KEY (the read-only key) and
QDRANT_API_KEY (the read-write key), each when configured. Every request the guard sends to Qdrant is a GET that the
read-only key is allowed (checked against Qdrant 1.13.5 and 1.16.3), so the CLI uses the read-only key when it has
one and the read-write key otherwise. `optional` is set for pre-upgrade: it reads the Secret of the running (old)
revision, which does not hold a key yet when this upgrade is the one that turns it on, and then the running Qdrant
needs no such key.
Usage: {{- include "qdrant.apiKey.hookEnv" (dict "root" . "optional" true) | nindent 12 }}
*/}}
{{- define "qdrant.apiKey.hookEnv" -}}
{{- $ro := include "qdrant.apiKey.secretKeyRef" (dict "root" .root "value" .root.Values.readOnlyApiKey "dataKey" "read-only-api-key") }}
{{- $rw := include "qdrant.apiKey.secretKeyRef" (dict "root" .root "value" .root.Values.apiKey "dataKey" "api-key") }}
{{- if $ro }}
- name: QDRANT_READ_ONLY_API_KEY
  valueFrom:
    secretKeyRef:
      {{- $ro | nindent 6 }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}
{{- if $rw }}
- name: QDRANT_API_KEY
  valueFrom:
    secretKeyRef:
      {{- $rw | nindent 6 }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
