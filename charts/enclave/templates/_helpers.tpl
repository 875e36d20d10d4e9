{{- define "enclave.env" -}}
- name: DATABASE_URL
  valueFrom: { secretKeyRef: { name: {{ .Values.databaseUrlSecret.name }}, key: {{ .Values.databaseUrlSecret.key }} } }
- name: ENCLAVE_MASTER_KEY
  valueFrom: { secretKeyRef: { name: {{ .Values.masterKeySecret.name }}, key: {{ .Values.masterKeySecret.key }} } }
- name: REDIS_URL
  value: {{ .Values.redisUrl | quote }}
- name: ENCLAVE_ADMIN_EMAIL
  value: {{ .Values.adminEmail | quote }}
- name: ENCLAVE_GATEWAY_URL
  value: "http://{{ .Release.Name }}-gateway:{{ .Values.gateway.port }}"
- name: ENCLAVE_DATA_DIR
  value: /var/lib/enclave
{{- with (.Values.publicUrl | default (ternary (printf "https://%s" .Values.ingress.host) "" .Values.ingress.enabled)) }}
# The Host and Origin the browser uses: any other is refused (DNS rebinding, cross-site).
- name: ENCLAVE_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.trustedProxies }}
- name: ENCLAVE_TRUSTED_PROXIES
  value: {{ . | quote }}
{{- end }}
{{- if .Values.auditAnchors.existingClaim }}
- name: ENCLAVE_AUDIT_ANCHOR_DIR
  value: /var/lib/enclave-audit-anchors
{{- end }}
{{- end -}}

{{/* The audit checkpoints' folder, shared by the web and worker pods (see values.yaml auditAnchors). */}}
{{- define "enclave.anchorMount" -}}
{{- if .Values.auditAnchors.existingClaim }}
volumeMounts: [{ name: audit-anchors, mountPath: /var/lib/enclave-audit-anchors }]
{{- end -}}
{{- end -}}
{{- define "enclave.anchorVolume" -}}
{{- if .Values.auditAnchors.existingClaim }}
volumes: [{ name: audit-anchors, persistentVolumeClaim: { claimName: {{ .Values.auditAnchors.existingClaim }} } }]
{{- end -}}
{{- end -}}
{{- define "enclave.labels" -}}
app.kubernetes.io/name: enclave
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
