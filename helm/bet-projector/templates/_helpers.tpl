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
{{- end -}}

{{- define "bet-projector.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
Security settings as *_FILE variables pointing at mounted Secrets.
Call with (dict "root" $ "role" "worker") or (dict "root" $ "role" "migrator").
*/}}
{{- define "bet-projector.securityEnv" -}}
{{- $v := .root.Values -}}
# Each role gets its own connection string only: the worker pod never sees the migrator's.
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "bet-projector.secretName" .root }}
      key: {{ ternary "MIGRATOR_DATABASE_URL" "DATABASE_URL" (eq .role "migrator") }}
{{- if $v.database.sslMode }}
- name: DATABASE_SSL_MODE
  value: {{ $v.database.sslMode | quote }}
{{- end }}
{{- if $v.database.tlsSecret }}
- name: DATABASE_SSL_CA_FILE
  value: /etc/bet-projector/db-tls/ca.crt
{{- if $v.database.clientCertificate }}
- name: DATABASE_SSL_CERT_FILE
  value: /etc/bet-projector/db-tls/tls.crt
- name: DATABASE_SSL_KEY_FILE
  value: /etc/bet-projector/db-tls/tls.key
{{- end }}
{{- end }}
{{- if include "bet-projector.passwordSecret" . }}
- name: DATABASE_PASSWORD_FILE
  value: /etc/bet-projector/db-password/password
{{- end }}
{{- if $v.kafka.tls.enabled }}
- name: KAFKA_SSL
  value: "true"
{{- if $v.kafka.tls.secret }}
- name: KAFKA_SSL_CA_FILE
  value: /etc/bet-projector/kafka-tls/ca.crt
{{- if $v.kafka.tls.clientCertificate }}
- name: KAFKA_SSL_CERT_FILE
  value: /etc/bet-projector/kafka-tls/tls.crt
- name: KAFKA_SSL_KEY_FILE
  value: /etc/bet-projector/kafka-tls/tls.key
{{- end }}
{{- end }}
{{- end }}
{{- if $v.kafka.sasl.mechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $v.kafka.sasl.mechanism | quote }}
- name: KAFKA_SASL_USERNAME_FILE
  value: /etc/bet-projector/kafka-sasl/username
- name: KAFKA_SASL_PASSWORD_FILE
  value: /etc/bet-projector/kafka-sasl/password
{{- end }}
{{- if $v.tracing.endpoint }}
# Spans name the pod that made them (the $(POD_NAME) below needs it defined first).
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: OTEL_RESOURCE_ATTRIBUTES
  value: "k8s.pod.name=$(POD_NAME),k8s.namespace.name={{ .root.Release.Namespace }}"
{{- if $v.tracing.headersSecret }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ $v.tracing.headersSecret | quote }}
      key: headers
{{- end }}
{{- end }}
{{- end -}}

{{- define "bet-projector.passwordSecret" -}}
{{- if eq .role "migrator" -}}
{{- .root.Values.database.migratorPasswordSecret -}}
{{- else -}}
{{- .root.Values.database.passwordSecret -}}
{{- end -}}
{{- end -}}

{{- define "bet-projector.securityMounts" -}}
{{- $v := .root.Values -}}
{{- if $v.database.tlsSecret }}
- name: db-tls
  mountPath: /etc/bet-projector/db-tls
  readOnly: true
{{- end }}
{{- if include "bet-projector.passwordSecret" . }}
- name: db-password
  mountPath: /etc/bet-projector/db-password
  readOnly: true
{{- end }}
{{- if and $v.kafka.tls.enabled $v.kafka.tls.secret }}
- name: kafka-tls
  mountPath: /etc/bet-projector/kafka-tls
  readOnly: true
{{- end }}
{{- if $v.kafka.sasl.mechanism }}
- name: kafka-sasl
  mountPath: /etc/bet-projector/kafka-sasl
  readOnly: true
{{- end }}
{{- end -}}

{{- define "bet-projector.securityVolumes" -}}
{{- $v := .root.Values -}}
{{- if $v.database.tlsSecret }}
- name: db-tls
  secret:
    secretName: {{ $v.database.tlsSecret }}
    defaultMode: 0440
{{- end }}
{{- with include "bet-projector.passwordSecret" . }}
- name: db-password
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- if and $v.kafka.tls.enabled $v.kafka.tls.secret }}
- name: kafka-tls
  secret:
    secretName: {{ $v.kafka.tls.secret }}
    defaultMode: 0440
{{- end }}
{{- if $v.kafka.sasl.mechanism }}
- name: kafka-sasl
  secret:
    secretName: {{ required "kafka.sasl.secret is required with kafka.sasl.mechanism" $v.kafka.sasl.secret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "bet-projector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "bet-projector.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end }}

{{/* What every pod of the chart shares: its ServiceAccount (no API token), pull secrets, security context. */}}
{{- define "bet-projector.podCommon" -}}
serviceAccountName: {{ include "bet-projector.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/*
The worker's NODE_OPTIONS: the heap ceiling (heapLimitMiB), then any NODE_OPTIONS given in config,
which would otherwise be hidden by this variable (env wins over envFrom), so an operator's own
options still apply and win over the ceiling where they set one. Refuses a ceiling above two thirds
of resources.limits.memory (when given in Mi or Gi): the rest is buffers, code and the young
generation.
*/}}
{{- define "bet-projector.nodeOptions" -}}
{{- $heap := int .Values.heapLimitMiB -}}
{{- $limit := toString (dig "limits" "memory" "" .Values.resources) -}}
{{- $limitMiB := 0 -}}
{{- if hasSuffix "Gi" $limit -}}
{{- $limitMiB = mul (atoi (trimSuffix "Gi" $limit)) 1024 -}}
{{- else if hasSuffix "Mi" $limit -}}
{{- $limitMiB = atoi (trimSuffix "Mi" $limit) -}}
{{- end -}}
{{- if and (gt $limitMiB 0) (gt (mul $heap 3) (mul $limitMiB 2)) -}}
{{- fail (printf "heapLimitMiB %d is above two thirds of resources.limits.memory %s: raise the limit with it, or lower heapLimitMiB" $heap $limit) -}}
{{- end -}}
{{- trim (printf "--max-old-space-size=%d %s" $heap (index .Values.config "NODE_OPTIONS" | default "")) -}}
{{- end -}}
