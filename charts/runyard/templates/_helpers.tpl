{{/*
Shared helpers. Component helpers take (dict "ctx" . "component" "ingest"); the component's values
are `index .ctx.Values .component`, the same shape for every component.
*/}}

{{- define "runyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.fullname" -}}
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

{{/* "<fullname>-<component>", e.g. rel-runyard-ingest */}}
{{- define "runyard.componentName" -}}
{{- printf "%s-%s" (include "runyard.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "runyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object: (dict "ctx" . "component" "ingest"); component may be "". */}}
{{- define "runyard.labels" -}}
helm.sh/chart: {{ include "runyard.chart" .ctx }}
{{ include "runyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: runyard
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "runyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "runyard.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* The image reference: repository@digest when a digest is set, else repository:tag (appVersion). */}}
{{- define "runyard.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{- define "runyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "runyard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "runyard.configName" -}}
{{- printf "%s-config" (include "runyard.fullname" .) -}}
{{- end -}}

{{/* The checksum of the shared ConfigMap: a config change rolls every pod. */}}
{{- define "runyard.configChecksum" -}}
{{- include (print .Template.BasePath "/configmap.yaml") . | sha256sum -}}
{{- end -}}

{{/* Names of the bundled evaluation services and their Secrets. */}}
{{- define "runyard.postgresql.host" -}}{{ include "runyard.fullname" . }}-postgresql{{- end -}}
{{- define "runyard.redis.host" -}}{{ include "runyard.fullname" . }}-redis{{- end -}}
{{- define "runyard.minio.host" -}}{{ include "runyard.fullname" . }}-minio{{- end -}}

{{- define "runyard.postgresql.secret" -}}
{{- if .Values.postgresql.bundled.enabled -}}{{ include "runyard.fullname" . }}-postgresql{{- else -}}{{ .Values.postgresql.external.existingSecret }}{{- end -}}
{{- end -}}
{{- define "runyard.postgresql.secretKey" -}}
{{- if .Values.postgresql.bundled.enabled -}}database-url{{- else -}}{{ .Values.postgresql.external.secretKey }}{{- end -}}
{{- end -}}

{{/* The S3 endpoint the services call and the one named in presigned URLs. */}}
{{- define "runyard.s3.endpoint" -}}
{{- if .Values.bucket.bundled.enabled -}}
{{- printf "http://%s:9000" (include "runyard.minio.host" .) -}}
{{- else -}}
{{- .Values.bucket.external.endpoint -}}
{{- end -}}
{{- end -}}
{{- define "runyard.s3.publicEndpoint" -}}
{{- $b := .Values.bucket.bundled -}}
{{- if $b.enabled -}}
{{- if $b.publicEndpoint -}}{{ $b.publicEndpoint }}
{{- else if $b.publicHostname -}}{{ ternary "https" "http" .Values.tls.enabled }}://{{ $b.publicHostname }}
{{- else -}}http://localhost:9000{{- end -}}
{{- else -}}
{{- .Values.bucket.external.publicEndpoint -}}
{{- end -}}
{{- end -}}

{{/* The browser origin of the UI (the bucket's CORS rule allows GET from it). */}}
{{- define "runyard.origin" -}}
{{- if or .Values.ingress.enabled .Values.gateway.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.tls.enabled) .Values.hostname -}}
{{- else -}}
http://localhost:8080
{{- end -}}
{{- end -}}

{{/* Does the Ingress or Gateway carry gRPC ingest? */}}
{{- define "runyard.grpcRouted" -}}
{{- if or (and .Values.ingress.enabled .Values.ingress.grpc.enabled) .Values.gateway.enabled -}}true{{- end -}}
{{- end -}}

{{/* RUNYARD_PUBLIC_INGEST_ADDRESS / _TLS: what GET /api/v1/server-info tells the SDK to dial. */}}
{{- define "runyard.ingest.publicAddress" -}}
{{- if .Values.ingest.public.address -}}
{{- .Values.ingest.public.address -}}
{{- else if include "runyard.grpcRouted" . -}}
{{- printf "%s:%s" .Values.hostname (ternary "443" "80" .Values.tls.enabled) -}}
{{- end -}}
{{- end -}}
{{- define "runyard.ingest.publicTls" -}}
{{- if .Values.ingest.public.address -}}
{{- .Values.ingest.public.tls -}}
{{- else if include "runyard.grpcRouted" . -}}
{{- .Values.tls.enabled -}}
{{- else -}}
false
{{- end -}}
{{- end -}}

{{/* "true" when the TensorBoard component runs as its own Deployment (not inside the front door). */}}
{{- define "runyard.tensorboardSeparate" -}}
{{- if and .Values.tensorboard.enabled (not .Values.frontdoor.enabled) -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding RUNYARD_SECRET_KEY (copy jobs: remote instances' keys are encrypted with it). */}}
{{- define "runyard.transfers.secret" -}}
{{- .Values.transfers.secretKey.existingSecret | default (printf "%s-secret-key" (include "runyard.fullname" .)) -}}
{{- end -}}

{{/* Which HTTP components run (the front door replaces query, auth, artifact, tensorboard and wandb; the
copy-job component runs beside either: its pods also run the copies). */}}
{{- define "runyard.httpComponents" -}}
{{- $out := list -}}
{{- range $c := list "query" "auth" "artifact" "wandb" "frontdoor" "transfers" -}}
{{- if (index $.Values $c).enabled -}}{{- $out = append $out $c -}}{{- end -}}
{{- end -}}
{{- if include "runyard.tensorboardSeparate" . -}}{{- $out = append $out "tensorboard" -}}{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The REST routes, in match order, as JSON: [{"path", "regex", "component"}]. Auth prefixes are
runyard_server.auth.app.ROUTE_PREFIXES; a run's files and artifacts go to the artifact service
(runyard_server.artifact.app.is_artifact_path); /tensorboard to the TensorBoard component
(runyard_server.tensorboard.is_tensorboard_path); the W&B client protocol's paths (/graphql and /files/...:
runyard_server.wandb_compat.owns_path) to wandb; the copy-job routes (runyard_server.transfer_jobs.is_transfer_path,
before auth: /api/v1/admin/remotes) to transfers; everything else (REST, SSE, the UI) to query.
tests/chart checks these lists against the code.
*/}}
{{- define "runyard.httpRoutes" -}}
{{- $routes := list -}}
{{- if .Values.frontdoor.enabled -}}
{{- $routes = append $routes (dict "path" "/" "regex" "/" "component" "frontdoor") -}}
{{- else -}}
{{- if .Values.transfers.enabled -}}
{{- range $p := list "/api/v1/transfers" "/api/v1/admin/remotes" -}}
{{- $routes = append $routes (dict "path" $p "regex" (printf "%s(/|$)" $p) "component" "transfers") -}}
{{- end -}}
{{- end -}}
{{- range $p := list "/api/v1/auth" "/api/v1/viewer" "/api/v1/teams" "/api/v1/entities" "/api/v1/admin" -}}
{{- $routes = append $routes (dict "path" $p "regex" (printf "%s(/|$)" $p) "component" "auth") -}}
{{- end -}}
{{- range $kind := list "files" "artifacts" -}}
{{- $routes = append $routes (dict "path" (printf "/api/v1/runs/*/*/*/%s" $kind) "regex" (printf "/api/v1/runs/[^/]+/[^/]+/[^/]+/%s(/|$)" $kind) "component" "artifact") -}}
{{- end -}}
{{- $routes = append $routes (dict "path" "/api/v1/artifacts" "regex" "/api/v1/artifacts(/|$)" "component" "artifact") -}}
{{- if include "runyard.tensorboardSeparate" . -}}
{{- $routes = append $routes (dict "path" "/tensorboard" "regex" "/tensorboard(/|$)" "component" "tensorboard") -}}
{{- end -}}
{{- if .Values.wandb.enabled -}}
{{- $routes = append $routes (dict "path" "/graphql" "regex" "/graphql$" "component" "wandb") -}}
{{- $routes = append $routes (dict "path" "/files/" "regex" "/files/" "component" "wandb") -}}
{{- end -}}
{{- $routes = append $routes (dict "path" "/" "regex" "/" "component" "query") -}}
{{- end -}}
{{- toJson $routes -}}
{{- end -}}

{{/* Pod-level fields every Runyard pod shares: (dict "ctx" . "component" "ingest"). */}}
{{- define "runyard.podCommon" -}}
{{- $v := index .ctx.Values .component -}}
serviceAccountName: {{ include "runyard.serviceAccountName" .ctx }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .ctx.Values.podSecurityContext | nindent 2 }}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if $v.topologySpread.enabled }}
topologySpreadConstraints:
  {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: {{ $v.topologySpread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "runyard.selectorLabels" $ | nindent 8 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
Environment of a Runyard container: the shared ConfigMap (envFrom, see runyard.envFrom), then the
secrets by reference and the component's own settings. (dict "ctx" . "component" "artifact")
*/}}
{{- define "runyard.env" -}}
{{- $ctx := .ctx -}}
{{- $v := index $ctx.Values .component | default dict -}}
- name: RUNYARD_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "runyard.postgresql.secret" $ctx }}
      key: {{ include "runyard.postgresql.secretKey" $ctx }}
{{- if $ctx.Values.redis.enabled }}
{{- if $ctx.Values.redis.bundled.enabled }}
- name: RUNYARD_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "runyard.fullname" $ctx }}-redis
      key: redis-url
{{- else if $ctx.Values.redis.external.existingSecret }}
- name: RUNYARD_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.redis.external.existingSecret }}
      key: {{ $ctx.Values.redis.external.secretKey }}
{{- end }}
{{- end }}
{{- if has .component (list "artifact" "frontdoor" "gc" "tensorboard") }}
{{- if $ctx.Values.bucket.bundled.enabled }}
- name: RUNYARD_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "runyard.fullname" $ctx }}-minio
      key: root-user
- name: RUNYARD_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "runyard.fullname" $ctx }}-minio
      key: root-password
{{- else if eq $ctx.Values.bucket.external.credentials "secret" }}
- name: RUNYARD_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.bucket.external.existingSecret }}
      key: {{ $ctx.Values.bucket.external.accessKeyKey }}
- name: RUNYARD_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.bucket.external.existingSecret }}
      key: {{ $ctx.Values.bucket.external.secretKeyKey }}
{{- end }}
{{- end }}
{{- if and (has .component (list "auth" "frontdoor")) $ctx.Values.auth.oidc.issuer }}
- name: RUNYARD_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.auth.oidc.existingSecret }}
      key: {{ $ctx.Values.auth.oidc.secretKey }}
{{- end }}
{{- if has .component (list "wandb" "frontdoor") }}
{{- $fullname := include "runyard.fullname" $ctx }}
- name: RUNYARD_WANDB_INGEST_ADDRESS
  value: {{ printf "%s-ingest:8081" $fullname | quote }}
{{- if eq .component "wandb" }}
{{- range $c := list "auth" "query" "artifact" }}
- name: {{ printf "RUNYARD_WANDB_%s_URL" (upper $c) }}
  value: {{ printf "http://%s-%s:8080" $fullname $c | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if has .component (list "query" "frontdoor") }}
- name: RUNYARD_WEB_DIST
  value: /opt/runyard/web
{{- end }}
{{- if and (has .component (list "tensorboard" "frontdoor")) $ctx.Values.tensorboard.enabled }}
- name: RUNYARD_TENSORBOARD_CACHE_BYTES
  value: {{ $ctx.Values.tensorboard.cache.maxBytes | int64 | toString | quote }}
{{- else if eq .component "frontdoor" }}
- name: RUNYARD_TENSORBOARD_ENABLED
  value: "false"
{{- end }}
{{- if has .component (list "transfers" "frontdoor") }}
- name: RUNYARD_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "runyard.transfers.secret" $ctx }}
      key: {{ $ctx.Values.transfers.secretKey.key }}
{{- end }}
{{- if eq .component "transfers" }}
- name: RUNYARD_TRANSFER_CONCURRENCY
  value: {{ $ctx.Values.transfers.concurrency | toString | quote }}
- name: RUNYARD_TRANSFER_SOURCE_URL
  {{- if $ctx.Values.transfers.sourceUrl }}
  value: {{ $ctx.Values.transfers.sourceUrl | quote }}
  {{- else if $ctx.Values.frontdoor.enabled }}
  value: {{ printf "http://%s-frontdoor:8080" (include "runyard.fullname" $ctx) | quote }}
  {{- else }}
  value: {{ printf "%s://%s" (ternary "https" "http" $ctx.Values.tls.enabled) $ctx.Values.hostname | quote }}
  {{- end }}
{{- end }}
{{- if has .component (list "query" "frontdoor") }}
- name: RUNYARD_SDK_WHEELS_DIR
  value: /opt/runyard/wheels
{{- end }}
{{- range $name, $value := $v.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "runyard.envFrom" -}}
- configMapRef:
    name: {{ include "runyard.configName" . }}
{{- end -}}

{{/* The bundled-PostgreSQL first-install migration: an init container on every service pod. */}}
{{- define "runyard.migrateInit" -}}
{{- if and .ctx.Values.migrations.enabled .ctx.Values.postgresql.bundled.enabled }}
initContainers:
  - name: migrate
    image: {{ include "runyard.image" .ctx }}
    imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
    command: ["runyard-server", "migrate"]
    envFrom:
      {{- include "runyard.envFrom" .ctx | nindent 6 }}
    env:
      {{- include "runyard.env" (dict "ctx" .ctx "component" "migrations") | nindent 6 }}
    securityContext:
      {{- toYaml .ctx.Values.securityContext | nindent 6 }}
    resources:
      {{- toYaml .ctx.Values.migrations.resources | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
{{- end }}
{{- end -}}

{{- define "runyard.podAnnotations" -}}
{{- $v := index .ctx.Values .component -}}
checksum/config: {{ include "runyard.configChecksum" .ctx }}
{{- if .ctx.Values.monitoring.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: "9090"
prometheus.io/path: /metrics
{{- end }}
{{- with $v.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}
