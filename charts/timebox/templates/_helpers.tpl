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

{{- /* The chart's own labels, without commonLabels: what the ServiceMonitor selects by. */}}
{{- define "timebox.chartLabels" -}}
app.kubernetes.io/name: {{ include "timebox.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- /*
Labels from values (commonLabels, podLabels) after the chart's own, called with
(list <the chart's own labels, YAML> <labels>...): the first list of labels
wins over the next ones, and none replaces a label of the chart's own, on which
the selectors depend. One line per label, each after a newline.
*/}}
{{- define "timebox.moreLabels" -}}
{{- $own := index . 0 | fromYaml -}}
{{- $more := dict -}}
{{- range rest . }}{{ $more = merge $more (. | default dict) }}{{ end -}}
{{- range $key, $value := $more }}
{{- if not (hasKey $own $key) }}
{{ $key | quote }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- /* The labels of every object of the controller's: the chart's and commonLabels. */}}
{{- define "timebox.labels" -}}
{{- $own := include "timebox.chartLabels" . -}}
{{ $own }}
{{- include "timebox.moreLabels" (list $own .Values.commonLabels) }}
{{- end -}}

{{- define "timebox.selector" -}}
app.kubernetes.io/name: {{ include "timebox.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- /* The labels of the controller's pods: the selector's, podLabels and commonLabels. */}}
{{- define "timebox.podLabels" -}}
{{- $own := include "timebox.selector" . -}}
{{ $own }}
{{- include "timebox.moreLabels" (list $own .Values.podLabels .Values.commonLabels) }}
{{- end -}}

{{- /*
Objects read from the chart's files (YAML documents, `---` between them), with
commonLabels added to each; as they are when there are none. Called with
(list $ <the files' text>).
*/}}
{{- define "timebox.withCommonLabels" -}}
{{- $ctx := index . 0 -}}
{{- $text := index . 1 -}}
{{- if not $ctx.Values.commonLabels -}}
{{ $text }}
{{- else -}}
{{- $docs := list -}}
{{- range regexSplit "(?m)^---[ \t]*$" $text -1 -}}
{{- $obj := fromYaml . -}}
{{- if $obj.kind -}}
{{- $labels := dig "metadata" "labels" dict $obj -}}
{{- $own := toYaml $labels -}}
{{- $_ := set $obj.metadata "labels" (merge $labels (include "timebox.moreLabels" (list $own $ctx.Values.commonLabels) | fromYaml)) -}}
{{- $docs = append $docs (toYaml $obj) -}}
{{- end -}}
{{- end -}}
{{ join "\n---\n" $docs }}
{{- end -}}
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
{{- $own := include "timebox.portal.chartLabels" . -}}
{{ $own }}
{{- include "timebox.moreLabels" (list $own .Values.commonLabels) }}
{{- end -}}

{{- define "timebox.portal.chartLabels" -}}
{{ include "timebox.portal.selector" . }}
app.kubernetes.io/component: portal
app.kubernetes.io/part-of: {{ include "timebox.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "timebox.portal.podLabels" -}}
{{- $own := include "timebox.portal.selector" . -}}
{{ $own }}
{{- include "timebox.moreLabels" (list $own .Values.portal.podLabels .Values.commonLabels) }}
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
