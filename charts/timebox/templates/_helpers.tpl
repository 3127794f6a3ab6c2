{{- /*
The application's name: the chart's, or nameOverride. It is the
app.kubernetes.io/name label, so the selectors, of the objects and pods.
*/}}
{{- define "timebox.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /*
The prefix of every object's name: fullnameOverride, or <release>-<name>, or the
release's name alone when it contains the name already.
*/}}
{{- define "timebox.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{ .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else -}}
{{- $name := include "timebox.name" . -}}
{{- if contains $name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}
{{- end -}}

{{- define "timebox.labels" -}}
app.kubernetes.io/name: {{ include "timebox.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "timebox.selector" -}}
app.kubernetes.io/name: {{ include "timebox.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "timebox.serviceAccount" -}}
{{ default (printf "%s-controller" (include "timebox.fullname" .)) .Values.serviceAccount.name }}
{{- end -}}

{{- /*
The portal's pods have a name of their own: the controller's Services (webhook,
metrics) and NetworkPolicy select app.kubernetes.io/name: timebox, and must
never reach a portal pod.
*/}}
{{- define "timebox.portal.selector" -}}
app.kubernetes.io/name: {{ include "timebox.name" . }}-portal
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "timebox.portal.labels" -}}
{{ include "timebox.portal.selector" . }}
app.kubernetes.io/component: portal
app.kubernetes.io/part-of: {{ include "timebox.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "timebox.portal.fullname" -}}
{{ include "timebox.fullname" . }}-portal
{{- end -}}

{{- /* The URL people open, without a trailing slash (the redirect URI is <it>/callback). */}}
{{- define "timebox.portal.publicUrl" -}}
{{ trimSuffix "/" .Values.portal.publicUrl }}
{{- end -}}

{{- define "timebox.portal.sessionSecret" -}}
{{ default (printf "%s-session" (include "timebox.portal.fullname" .)) .Values.portal.session.existingSecret }}
{{- end -}}

{{- /* What the portal cannot run without, each named with how to set it. */}}
{{- define "timebox.portal.validate" -}}
{{- if not .Values.portal.publicUrl }}
{{- fail "portal.publicUrl is required with portal.enabled: the https URL people open (the OIDC redirect URI is <publicUrl>/callback), e.g. --set portal.publicUrl=https://timebox.example.com" }}
{{- end }}
{{- if not .Values.portal.oidc.issuerUrl }}
{{- fail "portal.oidc.issuerUrl is required with portal.enabled: the OpenID Connect issuer people sign in with, e.g. --set portal.oidc.issuerUrl=https://login.example.com" }}
{{- end }}
{{- if not .Values.portal.oidc.clientId }}
{{- fail "portal.oidc.clientId is required with portal.enabled: the OIDC client registered for the portal (in token mode, the audience the API server accepts), e.g. --set portal.oidc.clientId=timebox" }}
{{- end }}
{{- end -}}

{{/*
A Kubernetes memory quantity (512Mi, 1Gi, 500M, 536870912) in MiB, rounded down.
*/}}
{{- define "timebox.mebibytes" -}}
{{- $q := toString . -}}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 -}}
{{- $bytes := 0 -}}
{{- range $suffix, $factor := $units -}}
{{- if and (hasSuffix $suffix $q) (eq $bytes 0) (regexMatch "^[0-9]+$" (trimSuffix $suffix $q)) -}}
{{- $bytes = mul (trimSuffix $suffix $q | int64) $factor -}}
{{- end -}}
{{- end -}}
{{- if and (eq $bytes 0) (regexMatch "^[0-9]+$" $q) -}}
{{- $bytes = $q | int64 -}}
{{- end -}}
{{- div $bytes 1048576 -}}
{{- end -}}

{{/*
NODE_OPTIONS for the operator: V8's old generation sized from the memory limit.
Empty when there is no limit or the percentage is 0.
*/}}
{{- define "timebox.nodeOptions" -}}
{{- $limit := dig "limits" "memory" "" .Values.resources -}}
{{- $percent := .Values.nodejs.maxOldSpacePercent | int -}}
{{- if and $limit (gt $percent 0) -}}
{{- $mib := include "timebox.mebibytes" $limit | int -}}
{{- if gt $mib 0 -}}
--max-old-space-size={{ div (mul $mib $percent) 100 }}
{{- end -}}
{{- end -}}
{{- end -}}
