{{/*
Names and labels shared by the templates. With the release named "podwall" (as in the README)
every object is named "podwall-agent", as in deploy/kubernetes/podwall-agent.yaml.
*/}}

{{- define "podwall.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name: the release name when it already contains the chart's name. */}}
{{- define "podwall.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "podwall.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The agent's objects: ServiceAccount, ClusterRole, ClusterRoleBinding, DaemonSet. */}}
{{- define "podwall.agentName" -}}
{{- printf "%s-agent" (include "podwall.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the agent's pods: never change them (a selector is immutable). */}}
{{- define "podwall.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podwall.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "podwall.labels" -}}
{{ include "podwall.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: podwall
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "podwall.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The address the kubelet probes: the loopback address of the listening address's family. */}}
{{- define "podwall.probeHost" -}}
{{- if contains ":" .Values.metrics.host -}}::1{{- else -}}127.0.0.1{{- end -}}
{{- end -}}

{{/* --listen HOST:PORT, with an IPv6 host in brackets. */}}
{{- define "podwall.listen" -}}
{{- if contains ":" .Values.metrics.host -}}
{{- printf "[%s]:%d" .Values.metrics.host (int .Values.metrics.port) -}}
{{- else -}}
{{- printf "%s:%d" .Values.metrics.host (int .Values.metrics.port) -}}
{{- end -}}
{{- end -}}
