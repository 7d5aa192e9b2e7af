{{/*
The objects every service component renders: Deployment, Service, HPA, PDB.
(dict "ctx" . "component" "query" "command" "query")
HTTP components listen on 8080 ("http") and serve /metrics only on 9090 ("metrics", RUNYARD_METRICS_PORT);
ingest listens on 8081 ("grpc", h2c) and serves /healthz, /readyz and /metrics on 9090 ("metrics").
*/}}

{{- define "runyard.deployment" -}}
{{- $ctx := .ctx -}}
{{- $v := index $ctx.Values .component -}}
{{- $ingest := eq .component "ingest" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "runyard.componentName" . }}
  labels:
    {{- include "runyard.labels" . | nindent 4 }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  selector:
    matchLabels:
      {{- include "runyard.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "runyard.selectorLabels" . | nindent 8 }}
        runyard.io/role: app
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "runyard.podAnnotations" . | nindent 8 }}
    spec:
      {{- include "runyard.podCommon" . | nindent 6 }}
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      {{- include "runyard.migrateInit" . | nindent 6 }}
      containers:
        - name: {{ .component }}
          image: {{ include "runyard.image" $ctx }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          command: ["runyard-server", {{ .command | quote }}]
          envFrom:
            {{- include "runyard.envFrom" $ctx | nindent 12 }}
          env:
            {{- include "runyard.env" . | nindent 12 }}
          ports:
            {{- if $ingest }}
            - name: grpc
              containerPort: 8081
              protocol: TCP
            {{- else }}
            - name: http
              containerPort: 8080
              protocol: TCP
            {{- end }}
            - name: metrics
              containerPort: 9090
              protocol: TCP
          startupProbe:
            httpGet:
              path: /healthz
              port: {{ ternary "metrics" "http" $ingest }}
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet:
              path: /healthz
              port: {{ ternary "metrics" "http" $ingest }}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: {{ ternary "metrics" "http" $ingest }}
            periodSeconds: 5
            timeoutSeconds: 4
            failureThreshold: 3
          lifecycle:
            preStop:
              # the endpoint leaves the Service before the process drains (no shell in the image)
              exec:
                command: ["python", "-c", "import time; time.sleep(5)"]
          securityContext:
            {{- toYaml $ctx.Values.securityContext | nindent 12 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
{{- end -}}

{{- define "runyard.service" -}}
{{- $ctx := .ctx -}}
{{- $v := index $ctx.Values .component -}}
{{- $ingest := eq .component "ingest" -}}
{{- $lb := eq $v.service.type "LoadBalancer" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "runyard.componentName" . }}
  labels:
    {{- include "runyard.labels" . | nindent 4 }}
  {{- $ann := dict -}}
  {{- if and $lb (dig "internal" false $v.service) -}}
  {{- if eq $ctx.Values.platform "eks" -}}
  {{- $_ := set $ann "service.beta.kubernetes.io/aws-load-balancer-scheme" "internal" -}}
  {{- $_ := set $ann "service.beta.kubernetes.io/aws-load-balancer-type" "external" -}}
  {{- $_ := set $ann "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type" "ip" -}}
  {{- else if eq $ctx.Values.platform "gke" -}}
  {{- $_ := set $ann "networking.gke.io/load-balancer-type" "Internal" -}}
  {{- end -}}
  {{- end -}}
  {{- if and $lb (dig "hostname" "" $v.service) -}}
  {{- $_ := set $ann "external-dns.alpha.kubernetes.io/hostname" $v.service.hostname -}}
  {{- end -}}
  {{- $ann = merge (deepCopy ($v.service.annotations | default dict)) $ann -}}
  {{- with $ann }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $v.service.type }}
  {{- if and $lb (dig "loadBalancerSourceRanges" list $v.service) }}
  loadBalancerSourceRanges:
    {{- toYaml $v.service.loadBalancerSourceRanges | nindent 4 }}
  {{- end }}
  selector:
    {{- include "runyard.selectorLabels" . | nindent 4 }}
  ports:
    {{- if $ingest }}
    - name: grpc
      port: 8081
      targetPort: grpc
      protocol: TCP
      appProtocol: kubernetes.io/h2c
    {{- else }}
    - name: http
      port: 8080
      targetPort: http
      protocol: TCP
      appProtocol: http
    {{- end }}
    - name: metrics
      port: 9090
      targetPort: metrics
      protocol: TCP
      appProtocol: http
{{- end -}}

{{- define "runyard.hpa" -}}
{{- $v := index .ctx.Values .component -}}
{{- if $v.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "runyard.componentName" . }}
  labels:
    {{- include "runyard.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "runyard.componentName" . }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end }}
{{- end -}}

{{- define "runyard.pdb" -}}
{{- $v := index .ctx.Values .component -}}
{{- $replicas := ternary $v.autoscaling.minReplicas $v.replicas $v.autoscaling.enabled -}}
{{- if and $v.pdb.enabled (gt (int $replicas) 1) }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "runyard.componentName" . }}
  labels:
    {{- include "runyard.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ $v.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "runyard.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/* Everything one service component renders, separated by ---. */}}
{{- define "runyard.component" -}}
{{- if (index .ctx.Values .component).enabled }}
---
{{ include "runyard.deployment" . }}
---
{{ include "runyard.service" . }}
{{- with include "runyard.hpa" . }}
---
{{- . }}
{{- end }}
{{- with include "runyard.pdb" . }}
---
{{- . }}
{{- end }}
{{- end }}
{{- end -}}
