{{/* ---------------------------------------------------------------- names, labels */}}

{{- define "smsflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "smsflow.fullname" -}}
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

{{/* Name of a component's objects: smsflow.componentName (dict "root" $ "component" "ingest") */}}
{{- define "smsflow.componentName" -}}
{{- printf "%s-%s" (include "smsflow.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "smsflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smsflow.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "smsflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "smsflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: smsflow
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{- define "smsflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The five services: values key, and whether the service has a `[store]` section.
Iterate with: range $component, $c := include "smsflow.components" . | fromYaml
*/}}
{{- define "smsflow.components" -}}
ingest: {values: ingest, store: false}
router: {values: router, store: true}
dispatcher: {values: dispatcher, store: true}
dlr-ingester: {values: dlrIngester, store: true}
analytics: {values: analytics, store: true}
{{- end }}

{{/* ---------------------------------------------------------------- TOML rendering */}}

{{/*
smsflow.toml renders a map as TOML: scalars and arrays first, then sub-tables, then arrays of
tables, keys sorted. Integral numbers are written as integers (Helm reads every YAML number
as a float, and the services' integer fields refuse `2775.0`). Null values are left out.
*/}}
{{- define "smsflow.toml" -}}
{{- include "smsflow.toml.table" (dict "path" "" "map" .) | trim }}
{{- end }}

{{- define "smsflow.toml.table" -}}
{{- $path := .path }}
{{- $m := .map }}
{{- range $k := keys $m | sortAlpha }}
{{- $v := get $m $k }}
{{- if not (or (kindIs "invalid" $v) (kindIs "map" $v) (include "smsflow.toml.isTableArray" $v)) }}
{{ include "smsflow.toml.key" $k }} = {{ include "smsflow.toml.value" $v }}
{{- end }}
{{- end }}
{{- range $k := keys $m | sortAlpha }}
{{- $v := get $m $k }}
{{- $p := include "smsflow.toml.key" $k }}
{{- if $path }}{{ $p = printf "%s.%s" $path $p }}{{ end }}
{{- if and (kindIs "map" $v) $v }}
{{- if include "smsflow.toml.hasScalars" $v }}

[{{ $p }}]
{{- end }}
{{- include "smsflow.toml.table" (dict "path" $p "map" $v) }}
{{- else if include "smsflow.toml.isTableArray" $v }}
{{- range $e := $v }}

[[{{ $p }}]]
{{- include "smsflow.toml.table" (dict "path" $p "map" $e) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* "true" when the map has keys written as `key = value` (else its header can be left out). */}}
{{- define "smsflow.toml.hasScalars" -}}
{{- range $k, $v := . }}
{{- if not (or (kindIs "invalid" $v) (kindIs "map" $v) (include "smsflow.toml.isTableArray" $v)) }}true{{ end }}
{{- end }}
{{- end }}

{{/* "true" when the value is a non-empty list of maps (a TOML array of tables). */}}
{{- define "smsflow.toml.isTableArray" -}}
{{- if and (kindIs "slice" .) (gt (len .) 0) }}
{{- $all := true }}
{{- range . }}{{ if not (kindIs "map" .) }}{{ $all = false }}{{ end }}{{ end }}
{{- if $all }}true{{ end }}
{{- end }}
{{- end }}

{{- define "smsflow.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{/* A scalar, inline array or inline table. JSON string escapes are valid TOML escapes. */}}
{{- define "smsflow.toml.value" -}}
{{- if kindIs "string" . }}{{ toJson . }}
{{- else if kindIs "bool" . }}{{ . }}
{{- else if or (kindIs "float64" .) (kindIs "float32" .) (kindIs "int" .) (kindIs "int64" .) (kindIs "int32" .) (kindIs "uint64" .) }}
{{- if eq (float64 .) (float64 (int64 .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else if kindIs "slice" . }}[{{ range $i, $e := . }}{{ if $i }}, {{ end }}{{ include "smsflow.toml.value" $e }}{{ end }}]
{{- else if kindIs "map" . }}{ {{- $m := . }}{{ range $i, $k := keys $m | sortAlpha }}{{ if $i }},{{ end }} {{ include "smsflow.toml.key" $k }} = {{ include "smsflow.toml.value" (get $m $k) }}{{ end }} }
{{- else }}{{ fail (printf "cannot render %v (%s) as TOML" . (kindOf .)) }}
{{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- config sections */}}

{{/* `[kafka]`. Call with (dict "root" $ "admin" bool); admin adds the topic-creation keys. */}}
{{- define "smsflow.config.kafka" -}}
{{- $k := .root.Values.kafka }}
{{- $c := dict "bootstrap_servers" $k.bootstrapServers "security_protocol" $k.securityProtocol "topic_prefix" $k.topicPrefix "schema_registry_url" $k.schemaRegistryUrl }}
{{- with $k.sasl.mechanism }}{{ $_ := set $c "sasl_mechanism" . }}{{ end }}
{{- with $k.sasl.username }}{{ $_ := set $c "sasl_username" . }}{{ end }}
{{- with $k.schemaRegistryAuth.username }}{{ $_ := set $c "schema_registry_username" . }}{{ end }}
{{- if $k.tls.caSecret }}{{ $_ := set $c "ssl_ca_location" (printf "/etc/kafka-ca/%s" $k.tls.caKey) }}{{ end }}
{{- if $k.properties }}
{{- $props := dict }}
{{- range $pk, $pv := $k.properties }}{{ $_ := set $props $pk (toString $pv) }}{{ end }}
{{- $_ := set $c "properties" $props }}
{{- end }}
{{- if .admin }}
{{- $_ := set $c "partitions" $k.partitions }}
{{- $_ := set $c "replication_factor" $k.replicationFactor }}
{{- end }}
{{- toYaml $c }}
{{- end }}

{{/* `[store]`. Call with (dict "root" $ "admin" bool); admin adds the keyspace replication. */}}
{{- define "smsflow.config.store" -}}
{{- $s := .root.Values.store }}
{{- if not (and (kindIs "slice" $s.contactPoints) $s.contactPoints) }}
{{- fail "store.contactPoints: a list of host:port" }}
{{- end }}
{{- $c := dict "contact_points" $s.contactPoints "local_datacenter" $s.localDatacenter "keyspace" $s.keyspace "consistency" $s.consistency "connect_timeout_secs" $s.connectTimeoutSecs "bulk_write_linger_ms" $s.bulkWriteLingerMs "bulk_write_in_flight" $s.bulkWriteInFlight "bulk_write_max_rows" $s.bulkWriteMaxRows }}
{{- if .admin }}
{{- $r := dict "class" "NetworkTopologyStrategy" $s.localDatacenter (toString (int $s.replicationFactor)) }}
{{- if $s.replication }}
{{- $r = dict }}
{{- range $rk, $rv := $s.replication }}{{ $_ := set $r $rk (toString $rv) }}{{ end }}
{{- end }}
{{- $_ := set $c "replication" $r }}
{{- end }}
{{- toYaml $c }}
{{- end }}

{{- define "smsflow.config.telemetry" -}}
{{- $t := .Values.telemetry }}
{{- $c := dict "log_format" $t.logFormat "log_filter" $t.logFilter }}
{{- with $t.otlpEndpoint }}{{ $_ := set $c "otlp_endpoint" . }}{{ end }}
{{- with $t.traceFilter }}{{ $_ := set $c "trace_filter" . }}{{ end }}
{{- toYaml $c }}
{{- end }}

{{/* The dispatcher's carrier ids as a YAML list, after checking each carrier entry. */}}
{{- define "smsflow.carrierIds" -}}
{{- $ids := list }}
{{- $carriers := .Values.dispatcher.carriers }}
{{- if not (kindIs "slice" $carriers) }}{{ fail "dispatcher.carriers is a list of {id: ..., host: ..., ...}" }}{{ end }}
{{- if not $carriers }}{{ fail "dispatcher.carriers: at least one carrier" }}{{ end }}
{{- range $carriers }}
{{- if not (regexMatch "^[a-z0-9]+([_-][a-z0-9]+)*$" (toString .id)) }}
{{- fail (printf "dispatcher.carriers: id %q: lower-case letters and digits, single '-' or '_' between them" (toString .id)) }}
{{- end }}
{{- if has .id $ids }}{{ fail (printf "dispatcher.carriers: id %q appears twice" .id) }}{{ end }}
{{- if hasKey . "password" }}
{{- fail (printf "dispatcher.carriers %q: put the bind password in the carrierPasswords Secret, not in values" .id) }}
{{- end }}
{{- if hasKey . "name" }}
{{- fail (printf "dispatcher.carriers %q: `name` is set by the dispatcher to the id; remove it" .id) }}
{{- end }}
{{- $ids = append $ids .id }}
{{- end }}
{{- toYaml $ids }}
{{- end }}

{{/* Host the dispatcher's carriers without `host` use: the chart's carrier simulator. */}}
{{- define "smsflow.carrierSimHost" -}}
{{- include "smsflow.componentName" (dict "root" . "component" "carrier-sim") }}
{{- end }}

{{/*
A service's whole config, as YAML (feed it to fromYaml, then smsflow.toml).
Call with (dict "root" $ "component" "ingest").
*/}}
{{- define "smsflow.config" -}}
{{- $root := .root }}
{{- $component := .component }}
{{- $meta := get (include "smsflow.components" $root | fromYaml) $component }}
{{- $v := get $root.Values $meta.values }}
{{- $c := dict }}
{{- $_ := set $c "http" (dict "listen" (printf "0.0.0.0:%d" (int $v.port))) }}
{{- $_ := set $c "kafka" (include "smsflow.config.kafka" (dict "root" $root "admin" false) | fromYaml) }}
{{- $_ := set $c "telemetry" (include "smsflow.config.telemetry" $root | fromYaml) }}
{{- if $meta.store }}
{{- $_ := set $c "store" (include "smsflow.config.store" (dict "root" $root "admin" false) | fromYaml) }}
{{- end }}

{{- if eq $component "ingest" }}
{{- if $v.analyticsUrl }}
{{- $_ := set $c "analytics_url" $v.analyticsUrl }}
{{- else if $root.Values.analytics.enabled }}
{{- $_ := set $c "analytics_url" (printf "http://%s:%d" (include "smsflow.componentName" (dict "root" $root "component" "analytics")) (int $root.Values.analytics.service.port)) }}
{{- else }}
{{- fail "ingest.analyticsUrl is required when analytics.enabled is false" }}
{{- end }}
{{- if and $v.apiKeys.existingSecret $v.apiKeys.entries }}
{{- fail "ingest.apiKeys: set existingSecret or entries, not both" }}
{{- end }}
{{- range $v.apiKeys.entries }}
{{- if or (not .tenant) (not (regexMatch "^[0-9a-fA-F]{64}$" (toString .sha256))) (hasKey . "key") }}
{{- fail "ingest.apiKeys.entries: each entry needs `tenant` and `sha256` (64 hex digits; never a key in clear)" }}
{{- end }}
{{- end }}
{{- with $v.apiKeys.entries }}{{ $_ := set $c "api_keys" (deepCopy .) }}{{ end }}
{{- end }}

{{- if eq $component "router" }}
{{- $_ := set $c "route_table" (deepCopy $v.routeTable) }}
{{- if $root.Values.dispatcher.enabled }}
{{- $ids := include "smsflow.carrierIds" $root | fromYamlArray }}
{{- range $v.routeTable.routes }}
{{- $route := . }}
{{- range (prepend (default (list) .failover) .carrier_id) }}
{{- if not (has . $ids) }}
{{- fail (printf "router.routeTable: route %q names carrier %q, which is not in dispatcher.carriers" $route.route_id .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- if eq $component "dispatcher" }}
{{- $_ := set $c "shutdown_grace_secs" $v.shutdownGraceSecs }}
{{- $_ := include "smsflow.carrierIds" $root }}
{{- $carriers := dict }}
{{- range $v.carriers }}
{{- $cfg := omit (deepCopy .) "id" "passwordKey" }}
{{- if not $cfg.host }}
{{- if not $root.Values.carrierSim.enabled }}
{{- fail (printf "dispatcher.carriers: %q needs a host (or enable carrierSim)" .id) }}
{{- end }}
{{- $_ := set $cfg "host" (include "smsflow.carrierSimHost" $root) }}
{{- if not (hasKey $cfg "port") }}{{ $_ := set $cfg "port" $root.Values.carrierSim.smppPort }}{{ end }}
{{- end }}
{{- $_ := set $carriers .id $cfg }}
{{- end }}
{{- $_ := set $c "carriers" $carriers }}
{{- end }}

{{- toYaml (mergeOverwrite $c (deepCopy (default dict $v.config))) }}
{{- end }}

{{/* The setup job's (smsflow CLI's) config, as YAML. */}}
{{- define "smsflow.config.setup" -}}
{{- $c := dict }}
{{- $_ := set $c "kafka" (include "smsflow.config.kafka" (dict "root" . "admin" true) | fromYaml) }}
{{- $_ := set $c "store" (include "smsflow.config.store" (dict "root" . "admin" true) | fromYaml) }}
{{- $_ := set $c "telemetry" (include "smsflow.config.telemetry" . | fromYaml) }}
{{- toYaml (mergeOverwrite $c (deepCopy (default dict .Values.setup.config))) }}
{{- end }}

{{/* ---------------------------------------------------------------- pod pieces */}}

{{/*
Credentials as environment variables straight from their Secrets: the services take
SMSFLOW_*_USERNAME / _PASSWORD / _SECRET values verbatim (crates/smsflow-runtime/src/config.rs).
Call with (dict "root" $ "store" bool).
*/}}
{{- define "smsflow.credentialsEnv" -}}
{{- $k := .root.Values.kafka }}
{{- if $k.sasl.existingSecret }}
{{- if not $k.sasl.username }}
- name: SMSFLOW_KAFKA__SASL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ $k.sasl.existingSecret | quote }}, key: {{ $k.sasl.usernameKey | quote }}}
{{- end }}
- name: SMSFLOW_KAFKA__SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $k.sasl.existingSecret | quote }}, key: {{ $k.sasl.passwordKey | quote }}}
{{- end }}
{{- $r := $k.schemaRegistryAuth }}
{{- if $r.existingSecret }}
{{- if not $r.username }}
- name: SMSFLOW_KAFKA__SCHEMA_REGISTRY_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ $r.existingSecret | quote }}, key: {{ $r.usernameKey | quote }}}
{{- end }}
- name: SMSFLOW_KAFKA__SCHEMA_REGISTRY_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $r.existingSecret | quote }}, key: {{ $r.passwordKey | quote }}}
{{- end }}
{{- $s := .root.Values.store }}
{{- if and .store $s.existingSecret }}
- name: SMSFLOW_STORE__USERNAME
  valueFrom:
    secretKeyRef: {name: {{ $s.existingSecret | quote }}, key: {{ $s.usernameKey | quote }}}
- name: SMSFLOW_STORE__PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $s.existingSecret | quote }}, key: {{ $s.passwordKey | quote }}}
{{- end }}
{{- end }}

{{/* Volumes every smsflow pod mounts: its config, /tmp, the Kafka CA. Call with (dict "root" $ "configMap" name). */}}
{{- define "smsflow.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: tmp
  emptyDir: {}
{{- with .root.Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ . }}
{{- end }}
{{- end }}

{{- define "smsflow.volumeMounts" -}}
- name: config
  mountPath: /etc/smsflow
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/kafka-ca
  readOnly: true
{{- end }}
{{- end }}

{{/* A service's environment: credentials, ingest's API keys, dispatcher's bind passwords, extraEnv. */}}
{{- define "smsflow.serviceEnv" -}}
{{- $root := .root }}
{{- $component := .component }}
{{- $meta := get (include "smsflow.components" $root | fromYaml) $component }}
{{- $v := get $root.Values $meta.values }}
{{- include "smsflow.credentialsEnv" (dict "root" $root "store" $meta.store) }}
{{- if and (eq $component "ingest") $v.apiKeys.existingSecret }}
- name: SMSFLOW_API_KEYS
  valueFrom:
    secretKeyRef: {name: {{ $v.apiKeys.existingSecret | quote }}, key: {{ $v.apiKeys.key | quote }}}
{{- end }}
{{- if and (eq $component "dispatcher") $v.carrierPasswords.existingSecret }}
{{- range $v.carriers }}
- name: SMSFLOW_CARRIERS__{{ upper .id }}__PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $v.carrierPasswords.existingSecret | quote }}, key: {{ default .id .passwordKey | quote }}}
{{- end }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
