{{/*
Named templates of the Seer chart. Every name is prefixed with "seer." so that a
parent chart's helpers cannot collide with ours.
*/}}

{{/* The chart name, overridable with nameOverride. */}}
{{- define "seer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The resource-name prefix: fullnameOverride, else the release name, followed by the
chart name unless the release name already contains it (63 characters: a DNS label).
*/}}
{{- define "seer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The name of the operator's objects (Deployment, Service, monitors). */}}
{{- define "seer.operator.fullname" -}}
{{- printf "%s-operator" (include "seer.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* chart label value: name-version. */}}
{{- define "seer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object the chart creates. */}}
{{- define "seer.labels" -}}
helm.sh/chart: {{ include "seer.chart" . }}
{{ include "seer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: seer
{{- end }}

{{/* Labels that select this release's objects; immutable once installed. */}}
{{- define "seer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "seer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of the operator's objects, and the selector of its pods. */}}
{{- define "seer.operator.labels" -}}
{{ include "seer.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "seer.operator.selectorLabels" -}}
{{ include "seer.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "seer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "seer.operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image reference: repository@digest when a digest is given, else the tag (default: appVersion). */}}
{{- define "seer.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The RBAC object name (ClusterRole names are cluster-wide: include the namespace). */}}
{{- define "seer.rbac.name" -}}
{{- if .Values.rbac.namespaced }}
{{- include "seer.operator.fullname" . }}
{{- else }}
{{- printf "%s-%s" .Release.Namespace (include "seer.operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The namespaceSelector of the namespaces allowed to scrape metrics (NetworkPolicy peers). */}}
{{- define "seer.networkPolicy.metricsNamespaces" -}}
{{- with .Values.networkPolicy }}
{{- if .metricsNamespaceSelector }}
{{- toYaml .metricsNamespaceSelector }}
{{- else }}
kubernetes.io/metadata.name: {{ .metricsNamespace }}
{{- end }}
{{- end }}
{{- end }}
