{{- define "nest-operator.fullname" -}}
{{- if contains "nest-operator" .Release.Name }}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{ else }}{{ printf "%s-nest-operator" .Release.Name | trunc 63 | trimSuffix "-" }}{{ end }}
{{- end }}

{{- define "nest-operator.selectorLabels" -}}
app.kubernetes.io/name: nest-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "nest-operator.labels" -}}
{{ include "nest-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}
