{{/*
Helpers shared by every role. Plain and mechanical on purpose: deploy/testing/helm-render.ts renders this
chart in the tests (helm is not installable there) and refuses anything outside the subset it knows.
*/}}

{{- define "enclave.labels" -}}
app.kubernetes.io/name: enclave
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The secret a credential lives in: its own, or the chart-wide existingSecret. */}}
{{- define "enclave.secretName" -}}
{{- .own | default .root.Values.existingSecret -}}
{{- end -}}

{{- define "enclave.image" -}}
"{{ .Values.image.repository }}:{{ .Values.image.tag }}"
{{- end -}}

{{/* Checks that stop a render which could not work, with the value to fix. */}}
{{- define "enclave.checks" -}}
{{- if and (eq .Values.artifacts.backend "dir") (not .Values.persistence.data.existingClaim) (not .Values.persistence.data.create) }}
{{- fail "artifacts.backend=dir needs the data directory shared by web, worker and agent pods: set persistence.data.existingClaim or persistence.data.create, or use artifacts.backend=s3" }}
{{- end }}
{{- if and (eq .Values.artifacts.backend "s3") (not .Values.artifacts.s3.bucket) }}
{{- fail "artifacts.backend=s3 needs artifacts.s3.bucket" }}
{{- end }}
{{- if and (eq .Values.redis.mode "external") (not .Values.redis.external.url) (not .Values.redis.external.urlKey) }}
{{- fail "redis.mode=external needs redis.external.url, or redis.external.urlKey (a URL in a Secret)" }}
{{- end }}
{{- if not (index .Values.gateway.tracks .Values.gateway.activeTrack).enabled }}
{{- fail (printf "gateway.activeTrack is %s but gateway.tracks.%s.enabled is false: the gateway Service would select no pod" .Values.gateway.activeTrack .Values.gateway.activeTrack) }}
{{- end }}
{{- end -}}

{{/* The environment every role gets. Names are Enclave's settings (server/core/env.ts). */}}
{{- define "enclave.env" -}}
{{- if eq .Values.postgresql.mode "bundled" }}
# Kubernetes expands $(ENCLAVE_DB_PASSWORD) into DATABASE_URL below; ENCLAVE_-prefixed variables are
# never passed on to the engines and trainers the agent starts.
- name: ENCLAVE_DB_PASSWORD
  valueFrom: { secretKeyRef: { name: {{ include "enclave.secretName" (dict "own" .Values.postgresql.bundled.existingSecret "root" .) }}, key: {{ .Values.postgresql.bundled.passwordKey }} } }
- name: DATABASE_URL
  value: "postgres://{{ .Values.postgresql.bundled.user }}:$(ENCLAVE_DB_PASSWORD)@{{ .Release.Name }}-postgresql:5432/{{ .Values.postgresql.bundled.database }}"
{{- else }}
- name: DATABASE_URL
  valueFrom: { secretKeyRef: { name: {{ include "enclave.secretName" (dict "own" .Values.postgresql.external.existingSecret "root" .) }}, key: {{ .Values.postgresql.external.urlKey }} } }
{{- if .Values.postgresql.external.ownerUrlKey }}
- name: DATABASE_OWNER_URL
  valueFrom: { secretKeyRef: { name: {{ include "enclave.secretName" (dict "own" .Values.postgresql.external.existingSecret "root" .) }}, key: {{ .Values.postgresql.external.ownerUrlKey }} } }
{{- end }}
{{- end }}
{{- if eq .Values.redis.mode "bundled" }}
{{- if .Values.redis.bundled.passwordKey }}
- name: ENCLAVE_REDIS_PASSWORD
  valueFrom: { secretKeyRef: { name: {{ include "enclave.secretName" (dict "own" .Values.redis.bundled.existingSecret "root" .) }}, key: {{ .Values.redis.bundled.passwordKey }} } }
- name: REDIS_URL
  value: "redis://:$(ENCLAVE_REDIS_PASSWORD)@{{ .Release.Name }}-redis:6379"
{{- else }}
- name: REDIS_URL
  value: "redis://{{ .Release.Name }}-redis:6379"
{{- end }}
{{- else if .Values.redis.external.urlKey }}
- name: REDIS_URL
  valueFrom: { secretKeyRef: { name: {{ include "enclave.secretName" (dict "own" .Values.redis.external.existingSecret "root" .) }}, key: {{ .Values.redis.external.urlKey }} } }
{{- else }}
- name: REDIS_URL
  value: {{ .Values.redis.external.url | quote }}
{{- end }}
- name: REDIS_PREFIX
  value: {{ .Values.redis.prefix | quote }}
- name: ENCLAVE_MASTER_KEY
  valueFrom: { secretKeyRef: { name: {{ include "enclave.secretName" (dict "own" .Values.masterKey.existingSecret "root" .) }}, key: {{ .Values.masterKey.key }} } }
- name: ENCLAVE_ADMIN_EMAIL
  value: {{ .Values.adminEmail | quote }}
- name: ENCLAVE_GATEWAY_URL
  value: "{{ ternary "https" "http" (not (empty .Values.tls.existingSecret)) }}://{{ .Release.Name }}-gateway:{{ .Values.gateway.port }}"
- name: ENCLAVE_DATA_DIR
  value: /var/lib/enclave
- name: PORT
  value: "{{ .Values.web.port }}"
- name: GATEWAY_PORT
  value: "{{ .Values.gateway.port }}"
{{- with (.Values.publicUrl | default (ternary (printf "https://%s" .Values.ingress.host) "" .Values.ingress.enabled)) }}
# The Host and Origin the browser uses: any other is refused (DNS rebinding, cross-site).
- name: ENCLAVE_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.trustedProxies }}
- name: ENCLAVE_TRUSTED_PROXIES
  value: {{ . | quote }}
{{- end }}
- name: ENCLAVE_ARTIFACTS
  value: {{ .Values.artifacts.backend | quote }}
{{- if eq .Values.artifacts.backend "s3" }}
{{- with .Values.artifacts.s3 }}
- name: ENCLAVE_S3_BUCKET
  value: {{ .bucket | quote }}
- name: ENCLAVE_S3_REGION
  value: {{ .region | quote }}
- name: ENCLAVE_S3_FORCE_PATH_STYLE
  value: {{ ternary "true" "false" .forcePathStyle | quote }}
- name: ENCLAVE_S3_SSE
  value: {{ .sse | quote }}
{{- if .endpoint }}
- name: ENCLAVE_S3_ENDPOINT
  value: {{ .endpoint | quote }}
{{- end }}
{{- if .prefix }}
- name: ENCLAVE_S3_PREFIX
  value: {{ .prefix | quote }}
{{- end }}
{{- if .sseKmsKeyId }}
- name: ENCLAVE_S3_SSE_KMS_KEY_ID
  value: {{ .sseKmsKeyId | quote }}
{{- end }}
{{- if .existingSecret }}
- name: ENCLAVE_S3_ACCESS_KEY_ID
  valueFrom: { secretKeyRef: { name: {{ .existingSecret }}, key: {{ .accessKeyIdKey }} } }
- name: ENCLAVE_S3_SECRET_ACCESS_KEY
  valueFrom: { secretKeyRef: { name: {{ .existingSecret }}, key: {{ .secretAccessKeyKey }} } }
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.tls.existingSecret }}
- name: ENCLAVE_TLS_CERT
  value: /etc/enclave/tls/tls.crt
- name: ENCLAVE_TLS_KEY
  value: /etc/enclave/tls/tls.key
- name: ENCLAVE_AGENT_PORT
  value: "{{ .Values.web.agentPort }}"
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The image runs as a non-root user and writes only to its volumes. */}}
{{- define "enclave.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
fsGroup: {{ .fsGroup }}
seccompProfile: { type: RuntimeDefault }
{{- end -}}
{{- define "enclave.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: { drop: [ALL] }
{{- end -}}

{{/* Replicas of one role (and gateway track) on different nodes: preferred (soft) or required (hard). */}}
{{- define "enclave.antiAffinity" -}}
podAntiAffinity:
{{- if eq .root.Values.antiAffinity "hard" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels: {{- toYaml .selector | nindent 10 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels: {{- toYaml .selector | nindent 12 }}
{{- end }}
{{- end -}}

{{/* The audit checkpoints' folder, for the roles that write and verify them (web, worker). */}}
{{- define "enclave.anchorEnv" -}}
{{- if .Values.auditAnchors.existingClaim }}
- name: ENCLAVE_AUDIT_ANCHOR_DIR
  value: /var/lib/enclave-audit-anchors
{{- end }}
{{- end -}}

{{/* Volumes: /tmp, the data directory (shared claim or the pod's own), audit anchors, TLS files. */}}
{{- define "enclave.volumes" -}}
- name: tmp
  emptyDir: {}
- name: data
{{- if and .shared .root.Values.persistence.data.existingClaim }}
  persistentVolumeClaim: { claimName: {{ .root.Values.persistence.data.existingClaim }} }
{{- else if and .shared .root.Values.persistence.data.create }}
  persistentVolumeClaim: { claimName: {{ .root.Release.Name }}-data }
{{- else }}
  emptyDir: {}
{{- end }}
{{- if and .anchors .root.Values.auditAnchors.existingClaim }}
- name: audit-anchors
  persistentVolumeClaim: { claimName: {{ .root.Values.auditAnchors.existingClaim }} }
{{- end }}
{{- if .root.Values.tls.existingSecret }}
- name: tls
  secret: { secretName: {{ .root.Values.tls.existingSecret }} }
{{- end }}
{{- end -}}
{{- define "enclave.volumeMounts" -}}
- { name: tmp, mountPath: /tmp }
- { name: data, mountPath: /var/lib/enclave }
{{- if and .anchors .root.Values.auditAnchors.existingClaim }}
- { name: audit-anchors, mountPath: /var/lib/enclave-audit-anchors }
{{- end }}
{{- if .root.Values.tls.existingSecret }}
- { name: tls, mountPath: /etc/enclave/tls, readOnly: true }
{{- end }}
{{- end -}}

{{- define "enclave.podCommon" -}}
securityContext: {{- include "enclave.podSecurityContext" .Values.securityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
# Ordered shutdown: stop taking work, let jobs reach a safe point, flush logs.
terminationGracePeriodSeconds: 60
enableServiceLinks: false
{{- end -}}
