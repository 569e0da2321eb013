{{/* Chart name, overridable. */}}
{{- define "tocsin.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: <release>-<chart> unless the release already contains the chart name. */}}
{{- define "tocsin.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tocsin.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tocsin.labels" -}}
helm.sh/chart: {{ include "tocsin.chart" . }}
{{ include "tocsin.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tocsin
{{- end -}}

{{- define "tocsin.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tocsin.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tocsin.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tocsin.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tocsin.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Live sources' pods: a name of their own, so the worker's selectors never match them. */}}
{{- define "tocsin.sourcesSelectorLabels" -}}
app.kubernetes.io/name: {{ include "tocsin.name" . }}-sources
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Refuse a worker count the partitions cannot keep busy: extra consumers in one group idle. */}}
{{- define "tocsin.checkReplicas" -}}
{{- $partitions := int .Values.kafka.partitions -}}
{{- if gt (int .Values.replicaCount) $partitions -}}
{{- fail (printf "replicaCount %v is more than kafka.partitions %v: the extra workers would idle" .Values.replicaCount $partitions) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.maxReplicas) $partitions) -}}
{{- fail (printf "autoscaling.maxReplicas %v is more than kafka.partitions %v: the extra workers would idle" .Values.autoscaling.maxReplicas $partitions) -}}
{{- end -}}
{{- end -}}

{{/* The TOCSIN_KAFKA_* variables (pipeline/settings_kafka.py): partitions, TLS and SASL. Secrets
     come from existing Secrets by reference; certificate files from the volumes of
     "tocsin.kafkaVolumes". Settings the protocol would ignore are refused, as the worker does. */}}
{{- define "tocsin.kafkaEnv" -}}
{{- $k := .Values.kafka -}}
{{- $sasl := has $k.securityProtocol (list "SASL_PLAINTEXT" "SASL_SSL") -}}
{{- $tls := has $k.securityProtocol (list "SSL" "SASL_SSL") -}}
{{- if and (not $sasl) (or $k.sasl.username $k.sasl.passwordSecret.name) -}}
{{- fail (printf "kafka.sasl is set but kafka.securityProtocol %s sends no credentials" $k.securityProtocol) -}}
{{- end -}}
{{- if and (not $tls) (or $k.tls.caSecret.name $k.tls.clientSecret.name) -}}
{{- fail (printf "kafka.tls secrets are set but kafka.securityProtocol %s uses no TLS" $k.securityProtocol) -}}
{{- end -}}
- name: TOCSIN_KAFKA_PARTITIONS
  value: {{ $k.partitions | quote }}
- name: TOCSIN_KAFKA_REPLICATION_FACTOR
  value: {{ $k.replicationFactor | quote }}
- name: TOCSIN_KAFKA_SECURITY_PROTOCOL
  value: {{ $k.securityProtocol | quote }}
{{- if $sasl }}
- name: TOCSIN_KAFKA_SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
- name: TOCSIN_KAFKA_SASL_USERNAME
  value: {{ required "kafka.sasl.username is required with a SASL securityProtocol" $k.sasl.username | quote }}
- name: TOCSIN_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.sasl.passwordSecret.name is required with a SASL securityProtocol" $k.sasl.passwordSecret.name | quote }}
      key: {{ $k.sasl.passwordSecret.key | quote }}
{{- end }}
{{- if $tls }}
{{- if $k.tls.caSecret.name }}
- name: TOCSIN_KAFKA_SSL_CAFILE
  value: /etc/tocsin-kafka/ca/ca.crt
{{- end }}
{{- if $k.tls.clientSecret.name }}
- name: TOCSIN_KAFKA_SSL_CERTFILE
  value: /etc/tocsin-kafka/client/tls.crt
- name: TOCSIN_KAFKA_SSL_KEYFILE
  value: /etc/tocsin-kafka/client/tls.key
{{- end }}
- name: TOCSIN_KAFKA_SSL_CHECK_HOSTNAME
  value: {{ $k.tls.checkHostname | quote }}
{{- end }}
{{- end -}}

{{/* Volume mounts for the Kafka CA and client certificate (read-only, only when used). */}}
{{- define "tocsin.kafkaVolumeMounts" -}}
{{- $k := .Values.kafka -}}
{{- if has $k.securityProtocol (list "SSL" "SASL_SSL") -}}
{{- if $k.tls.caSecret.name }}
- name: kafka-ca
  mountPath: /etc/tocsin-kafka/ca
  readOnly: true
{{- end }}
{{- if $k.tls.clientSecret.name }}
- name: kafka-client
  mountPath: /etc/tocsin-kafka/client
  readOnly: true
{{- end }}
{{- end -}}
{{- end -}}

{{/* The Secret volumes behind "tocsin.kafkaVolumeMounts", each key under a fixed file name. */}}
{{- define "tocsin.kafkaVolumes" -}}
{{- $k := .Values.kafka -}}
{{- if has $k.securityProtocol (list "SSL" "SASL_SSL") -}}
{{- with $k.tls.caSecret }}
{{- if .name }}
- name: kafka-ca
  secret:
    secretName: {{ .name | quote }}
    items:
      - key: {{ .key | quote }}
        path: ca.crt
{{- end }}
{{- end }}
{{- with $k.tls.clientSecret }}
{{- if .name }}
- name: kafka-client
  secret:
    secretName: {{ .name | quote }}
    defaultMode: 0440
    items:
      - key: {{ .certKey | quote }}
        path: tls.crt
      - key: {{ .keyKey | quote }}
        path: tls.key
{{- end }}
{{- end }}
{{- end -}}
{{- end -}}
