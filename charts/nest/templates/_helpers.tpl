{{/* The chart's name. */}}
{{- define "nest.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full name of the release's objects: the release name, with "nest" when it lacks it. */}}
{{- define "nest.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The virtual cluster's name. */}}
{{- define "nest.clusterName" -}}
{{- default .Release.Name .Values.clusterName -}}
{{- end -}}

{{- define "nest.serviceAccountName" -}}
{{- default (include "nest.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "nest.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nest.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controlplane
{{- end -}}

{{- define "nest.labels" -}}
{{ include "nest.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
nest.dev/virtual-cluster: {{ include "nest.clusterName" . }}
{{- end -}}

{{- define "nest.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* What the isolation preset turns on: "true" or "". */}}
{{- define "nest.networkPolicy" -}}
{{- if or .Values.networkPolicy.enabled (has .Values.isolation.preset (list "baseline" "restricted")) }}true{{ end -}}
{{- end -}}
{{- define "nest.limitRange" -}}
{{- if or .Values.limitRange.enabled (has .Values.isolation.preset (list "baseline" "restricted")) }}true{{ end -}}
{{- end -}}
{{- define "nest.resourceQuota" -}}
{{- if or .Values.resourceQuota.enabled (eq .Values.isolation.preset "restricted") }}true{{ end -}}
{{- end -}}

{{/* Pod Security Admission labels of the preset. */}}
{{- define "nest.podSecurityLabels" -}}
{{- if ne .Values.isolation.preset "none" -}}
pod-security.kubernetes.io/enforce: {{ .Values.isolation.preset }}
pod-security.kubernetes.io/enforce-version: latest
pod-security.kubernetes.io/audit: restricted
pod-security.kubernetes.io/warn: restricted
{{- end -}}
{{- end -}}

{{/* DNS names of the apiserver in the host, for its certificate. */}}
{{- define "nest.serviceNames" -}}
{{- $name := include "nest.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $name (printf "%s.%s" $name $ns) (printf "%s.%s.svc" $name $ns) (printf "%s.%s.svc.cluster.local" $name $ns) | join "," -}}
{{- end -}}
