{{- define "bet-projector.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bet-projector.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bet-projector.labels" -}}
app.kubernetes.io/name: {{ include "bet-projector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "bet-projector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bet-projector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: worker
{{- end -}}

{{- define "bet-projector.secretName" -}}
{{- if .Values.secret.existingSecret -}}
{{- .Values.secret.existingSecret -}}
{{- else -}}
{{- include "bet-projector.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "bet-projector.envFrom" -}}
- configMapRef:
    name: {{ include "bet-projector.fullname" . }}
- secretRef:
    name: {{ include "bet-projector.secretName" . }}
{{- end -}}

{{- define "bet-projector.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
