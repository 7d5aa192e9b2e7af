{{/*
A bundled single-replica store (EVALUATION ONLY): Service + StatefulSet with a PVC.
(dict "ctx" . "component" "postgresql" "values" .Values.postgresql.bundled "port" 5432 "portName" "postgresql"
      "uid" 70 "container" (container fields as YAML) "dataPath" "/var/lib/postgresql/data")
*/}}
{{- define "runyard.store" -}}
{{- $b := .values -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "runyard.componentName" . }}
  labels:
    {{- include "runyard.labels" . | nindent 4 }}
    runyard.io/evaluation-only: "true"
spec:
  type: ClusterIP
  selector:
    {{- include "runyard.selectorLabels" . | nindent 4 }}
  ports:
    - name: {{ .portName }}
      port: {{ .port }}
      targetPort: {{ .portName }}
      protocol: TCP
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ include "runyard.componentName" . }}
  labels:
    {{- include "runyard.labels" . | nindent 4 }}
    runyard.io/evaluation-only: "true"
  annotations:
    runyard.io/note: "evaluation only: one replica, no replication, no backups; use a managed service in production"
spec:
  replicas: {{ $b.replicas }}
  serviceName: {{ include "runyard.componentName" . }}
  selector:
    matchLabels:
      {{- include "runyard.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "runyard.selectorLabels" . | nindent 8 }}
        runyard.io/role: data
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ .uid }}
        runAsGroup: {{ .uid }}
        fsGroup: {{ .uid }}
        seccompProfile:
          type: RuntimeDefault
      {{- with .ctx.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ printf "%s:%s" $b.image.repository $b.image.tag }}
          imagePullPolicy: IfNotPresent
          {{- .container | nindent 10 }}
          ports:
            - name: {{ .portName }}
              containerPort: {{ .port }}
              protocol: TCP
          securityContext:
            {{- toYaml .ctx.Values.securityContext | nindent 12 }}
          resources:
            {{- toYaml $b.resources | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: {{ .dataPath }}
            - name: tmp
              mountPath: /tmp
            {{- if eq .component "postgresql" }}
            - name: run
              mountPath: /var/run/postgresql
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- if eq .component "postgresql" }}
        - name: run
          emptyDir: {}
        {{- end }}
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          {{- include "runyard.selectorLabels" . | nindent 10 }}
      spec:
        accessModes: [ReadWriteOnce]
        {{- with $b.persistence.storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $b.persistence.size }}
{{- end -}}
