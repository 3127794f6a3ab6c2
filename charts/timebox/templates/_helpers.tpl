{{- define "timebox.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "timebox.labels" -}}
app.kubernetes.io/name: timebox
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "timebox.selector" -}}
app.kubernetes.io/name: timebox
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "timebox.serviceAccount" -}}
{{ default (printf "%s-controller" (include "timebox.fullname" .)) .Values.serviceAccount.name }}
{{- end -}}
