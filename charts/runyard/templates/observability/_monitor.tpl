{{/* Scrape endpoints: the component's port and the job label dashboards and alerts select on (runyard-<component>). */}}
{{- define "runyard.monitoredComponents" -}}
{{- $out := list -}}
{{- range $c := list "ingest" "query" "auth" "artifact" "wandb" "frontdoor" -}}
{{- if (index $.Values $c).enabled -}}{{- $out = append $out $c -}}{{- end -}}
{{- end -}}
{{- if include "runyard.tensorboardSeparate" . -}}{{- $out = append $out "tensorboard" -}}{{- end -}}
{{- toJson $out -}}
{{- end -}}
{{- define "runyard.jobRelabel" -}}
- action: replace
  targetLabel: job
  replacement: runyard-{{ .component }}
{{- end -}}
