{{/* Names and labels shared by every template. */}}
{{- define "novamem.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "novamem.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "novamem.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "novamem.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "novamem.selectorLabels" -}}
app.kubernetes.io/name: {{ include "novamem.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "novamem.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "novamem.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "novamem.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag must be a pinned version, not latest" -}}
{{- end -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{- define "novamem.secretName" -}}
{{- printf "%s-secrets" (include "novamem.fullname" .) -}}
{{- end -}}

{{/* The environment of the server and of the migration Job: plain values and secretKeyRefs only. */}}
{{- define "novamem.env" -}}
- name: NOVAMEM_HOST
  value: "0.0.0.0"
- name: NOVAMEM_PORT
  value: "7778"
- name: NOVAMEM_REQUIRE_EXTERNAL_DATABASE
  value: "1"
- name: NOVAMEM_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret | default (include "novamem.secretName" .) }}
      key: {{ ternary .Values.database.existingSecretKey "database-url" (not (empty .Values.database.existingSecret)) }}
- name: NOVAMEM_COOKIE_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.cookieSecret.existingSecret | default (include "novamem.secretName" .) }}
      key: {{ ternary .Values.cookieSecret.existingSecretKey "cookie-secret" (not (empty .Values.cookieSecret.existingSecret)) }}
- name: NOVAMEM_PG_POOL_MAX
  value: {{ .Values.database.poolMax | quote }}
- name: NOVAMEM_BASE_URL
  value: {{ .Values.baseUrl | quote }}
- name: NOVAMEM_CORS_ORIGINS
  value: {{ list .Values.baseUrl .Values.extraCorsOrigins | compact | join "," | quote }}
- name: NOVAMEM_TRUSTED_PROXIES
  value: {{ .Values.trustedProxies | quote }}
- name: NOVAMEM_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- with .Values.bootstrapAdminEmail }}
- name: NOVAMEM_BOOTSTRAP_ADMIN_EMAIL
  value: {{ . | quote }}
{{- end }}
{{- if .Values.qdrant.enabled }}
- name: NOVAMEM_VECTOR_STORE
  value: "qdrant"
- name: NOVAMEM_QDRANT_URL
  value: {{ required "qdrant.url is required when qdrant.enabled" .Values.qdrant.url | quote }}
- name: NOVAMEM_QDRANT_TIMEOUT_MS
  value: {{ .Values.qdrant.timeoutMs | quote }}
{{- if or .Values.qdrant.existingSecret .Values.qdrant.apiKey }}
- name: NOVAMEM_QDRANT_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.qdrant.existingSecret | default (include "novamem.secretName" .) }}
      key: {{ ternary .Values.qdrant.existingSecretKey "qdrant-api-key" (not (empty .Values.qdrant.existingSecret)) }}
{{- end }}
{{- end }}
{{- if .Values.falkordb.enabled }}
- name: NOVAMEM_GRAPH_STORE
  value: "falkordb"
- name: NOVAMEM_FALKORDB_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.falkordb.existingSecret | default (include "novamem.secretName" .) }}
      key: {{ ternary .Values.falkordb.existingSecretKey "falkordb-url" (not (empty .Values.falkordb.existingSecret)) }}
{{- end }}
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
