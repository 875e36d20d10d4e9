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
{{- end -}}
{{- define "enclave.labels" -}}
app.kubernetes.io/name: enclave
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
