{{/*
Names, labels and the parts the api and worker pods share. Every named template is
prefixed with the chart's name.
*/}}

{{/* The chart's name, or nameOverride. */}}
{{- define "utpost.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: fullnameOverride, or
release-chart (just the release when it holds the chart's name already).
Kept to 63 characters, the DNS label limit.
*/}}
{{- define "utpost.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* name-version, for helm.sh/chart. */}}
{{- define "utpost.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels selectors use; with a component for api or worker. */}}
{{- define "utpost.selectorLabels" -}}
app.kubernetes.io/name: {{ include "utpost.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* The standard labels of every resource. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "utpost.labels" -}}
helm.sh/chart: {{ include "utpost.chart" .ctx }}
{{ include "utpost.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: utpost
{{- end }}

{{- define "utpost.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "utpost.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "utpost.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Secret names: the existing one named in values, or the chart's own. */}}
{{- define "utpost.tlsSecret" -}}
{{- default (printf "%s-tls" (include "utpost.fullname" .)) .Values.tls.existingSecret }}
{{- end }}
{{- define "utpost.receiptsSecret" -}}
{{- default (printf "%s-receipts" (include "utpost.fullname" .)) .Values.receipts.existingSecret }}
{{- end }}
{{- define "utpost.providersSecret" -}}
{{- default (printf "%s-providers" (include "utpost.fullname" .)) .Values.providers.existingSecret }}
{{- end }}
{{- define "utpost.storeSecret" -}}
{{- default (printf "%s-store" (include "utpost.fullname" .)) .Values.store.existingSecret }}
{{- end }}

{{/* The RabbitmqCluster's name (the operator names its Service the same). */}}
{{- define "utpost.rabbitmqName" -}}
{{- printf "%s-rabbitmq" (include "utpost.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The broker's credentials: the operator's default-user Secret (keys username
and password), an existing Secret, or the chart's own.
*/}}
{{- define "utpost.brokerSecret" -}}
{{- if eq .Values.broker.mode "operator" }}
{{- printf "%s-default-user" (include "utpost.rabbitmqName" .) }}
{{- else }}
{{- default (printf "%s-broker" (include "utpost.fullname" .)) .Values.broker.external.existingSecret }}
{{- end }}
{{- end }}
{{- define "utpost.brokerUsernameKey" -}}
{{- if eq .Values.broker.mode "operator" }}username{{ else }}{{ .Values.broker.external.usernameKey }}{{ end }}
{{- end }}
{{- define "utpost.brokerPasswordKey" -}}
{{- if eq .Values.broker.mode "operator" }}password{{ else }}{{ .Values.broker.external.passwordKey }}{{ end }}
{{- end }}

{{/*
utpostd.yaml: .Values.config with the parts the chart owns written over it
(listen addresses on the pod's ports, the mounted certificates, the store
and the broker). The role is not in it: each Deployment passes --role.
*/}}
{{- define "utpost.daemonConfig" -}}
{{- $owned := dict }}
{{- $_ := set $owned "server" (dict
      "listen" (printf "0.0.0.0:%d" (int .Values.ports.grpc))
      "cert_file" "/etc/utpost/tls/tls.crt"
      "key_file" "/etc/utpost/tls/tls.key"
      "client_ca_file" "/etc/utpost/tls/ca.crt") }}
{{- $_ := set $owned "store" (dict
      "engine" "postgres"
      "postgres" (dict
        "conninfo" .Values.store.conninfo
        "password_file" "/etc/utpost/store/password"
        "pool_size" (int .Values.store.poolSize))) }}
{{- $broker := dict "vhost" .Values.broker.vhost "prefetch" (int .Values.broker.prefetch) "prefix" .Values.broker.prefix }}
{{- if eq .Values.broker.mode "operator" }}
{{- $_ := set $broker "host" (printf "%s.%s.svc" (include "utpost.rabbitmqName" .) .Release.Namespace) }}
{{- $_ := set $broker "port" 5672 }}
{{- else if .Values.broker.external.nodes }}
{{- $_ := set $broker "nodes" .Values.broker.external.nodes }}
{{- else }}
{{- $_ := set $broker "host" .Values.broker.external.host }}
{{- $_ := set $broker "port" (int .Values.broker.external.port) }}
{{- end }}
{{- $_ := set $owned "broker" $broker }}
{{- $_ := set $owned "receipts" (dict
      "key_file" "/etc/utpost/receipts/receipts.key"
      "cert_chain_file" "/etc/utpost/receipts/receipts.pem") }}
{{- $_ := set $owned "observability" (dict
      "metrics_listen" (printf "0.0.0.0:%d" (int .Values.ports.metrics))
      "health_listen" (printf "0.0.0.0:%d" (int .Values.ports.health))) }}
{{- $config := mergeOverwrite (deepCopy .Values.config) $owned }}
{{- toYaml $config }}
{{- end }}

{{/*
The pod template of a role: (dict "ctx" $ "role" "api" "values" .Values.api).
Both roles run the same image and configuration; --role picks the work.
*/}}
{{- define "utpost.podTemplate" -}}
{{- $ctx := .ctx }}
{{- $v := $ctx.Values -}}
metadata:
  labels:
    {{- include "utpost.labels" (dict "ctx" $ctx "component" .role) | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A changed configuration or Secret the chart makes rolls the pods.
    checksum/config: {{ include "utpost.daemonConfig" $ctx | sha256sum }}
    checksum/secrets: {{ toJson (list $v.tls $v.receipts $v.providers $v.store $v.broker.external) | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "utpost.serviceAccountName" $ctx }}
  automountServiceAccountToken: false
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ add (int (default 30 $v.config.observability.shutdown_grace_seconds)) 10 }}
  containers:
    - name: utpostd
      image: {{ include "utpost.image" $ctx | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args: ["--config", "/etc/utpost/config/utpostd.yaml", "--role", {{ .role | quote }}]
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      ports:
        {{- if eq .role "api" }}
        - name: grpc
          containerPort: {{ $v.ports.grpc }}
          protocol: TCP
        {{- end }}
        - name: metrics
          containerPort: {{ $v.ports.metrics }}
          protocol: TCP
        - name: health
          containerPort: {{ $v.ports.health }}
          protocol: TCP
      env:
        - name: UTPOST_BROKER_USER
          valueFrom:
            secretKeyRef:
              name: {{ include "utpost.brokerSecret" $ctx }}
              key: {{ include "utpost.brokerUsernameKey" $ctx }}
        - name: UTPOST_BROKER_PASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ include "utpost.brokerSecret" $ctx }}
              key: {{ include "utpost.brokerPasswordKey" $ctx }}
        {{- with .values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if $v.probes.enabled }}
      livenessProbe:
        grpc:
          port: {{ $v.ports.health }}
          service: liveness
        {{- toYaml $v.probes.liveness | nindent 8 }}
      readinessProbe:
        grpc:
          port: {{ $v.ports.health }}
          service: readiness
        {{- toYaml $v.probes.readiness | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml .values.resources | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/utpost/config
          readOnly: true
        - name: tls
          mountPath: /etc/utpost/tls
          readOnly: true
        - name: receipts
          mountPath: /etc/utpost/receipts
          readOnly: true
        - name: providers
          mountPath: /etc/utpost/providers
          readOnly: true
        - name: store
          mountPath: /etc/utpost/store
          readOnly: true
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ include "utpost.fullname" $ctx }}-config
    - name: tls
      secret:
        secretName: {{ include "utpost.tlsSecret" $ctx }}
        defaultMode: 0440
    - name: receipts
      secret:
        secretName: {{ include "utpost.receiptsSecret" $ctx }}
        defaultMode: 0440
    - name: providers
      secret:
        secretName: {{ include "utpost.providersSecret" $ctx }}
        defaultMode: 0440
    - name: store
      secret:
        secretName: {{ include "utpost.storeSecret" $ctx }}
        defaultMode: 0440
        items:
          - key: {{ $v.store.passwordKey }}
            path: password
    - name: tmp
      emptyDir:
        sizeLimit: {{ $v.tmpSizeLimit }}
  {{- with .values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  affinity:
    {{- if .values.affinity }}
    {{- toYaml .values.affinity | nindent 4 }}
    {{- else }}
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "utpost.selectorLabels" (dict "ctx" $ctx "component" .role) | nindent 16 }}
    {{- end }}
{{- end }}

{{/*
The egress both roles need: DNS, and the ports of the store, the broker and
the providers (networkPolicy.egressPorts), plus networkPolicy.extraEgress.
*/}}
{{- define "utpost.networkPolicyEgress" -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
- ports:
    {{- range .Values.networkPolicy.egressPorts }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
{{- if eq .Values.broker.mode "operator" }}
- to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: {{ include "utpost.rabbitmqName" . }}
  ports:
    - {port: 5672, protocol: TCP}
{{- end }}
{{- with .Values.networkPolicy.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Ingress to the metrics port (networkPolicy.metricsFrom; any when empty) and to the health port (the kubelet). */}}
{{- define "utpost.networkPolicyIngressCommon" -}}
- ports:
    - {port: {{ .Values.ports.metrics }}, protocol: TCP}
  {{- with .Values.networkPolicy.metricsFrom }}
  from:
    {{- toYaml . | nindent 4 }}
  {{- end }}
- ports:
    - {port: {{ .Values.ports.health }}, protocol: TCP}
{{- end }}
