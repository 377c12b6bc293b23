{{/* Names and labels shared by every template. */}}

{{- define "inference-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: also the name of its cluster-scoped objects, so two releases never collide. */}}
{{- define "inference-operator.fullname" -}}
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

{{- define "inference-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inference-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "inference-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "inference-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: inference-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "inference-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "inference-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "inference-operator.peeringName" -}}
{{- default (include "inference-operator.fullname" .) .Values.ha.peeringName }}
{{- end }}

{{- define "inference-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Namespaces whose engine pods the NetworkPolicy protects. */}}
{{- define "inference-operator.networkPolicyNamespaces" -}}
{{- $namespaces := .Values.networkPolicy.namespaces | default .Values.watchNamespaces }}
{{- if not $namespaces }}
{{- fail "networkPolicy.namespaces must list the namespaces to protect when the operator watches every namespace" }}
{{- end }}
{{- toJson $namespaces }}
{{- end }}

{{/*
The rules the operator needs in every namespace it serves (docs/install.md explains each one).
No wildcards and no Secrets: engine pods read Hugging Face tokens through secretKeyRef, which the kubelet
resolves; the operator only writes the Secret's name into the pod template.
*/}}
{{- define "inference-operator.namespacedRules" -}}
# Its own API: kopf watches both kinds; the reconcile reads them, creates EngineBuilds and writes status.
- apiGroups: ["inference-operator.dev"]
  resources: ["inferencedeployments"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["inference-operator.dev"]
  resources: ["enginebuilds"]
  verbs: ["get", "list", "watch", "create"]
# Weight cache entries: created once per (source, model, revision), evicted (deleted) when unused over the budget.
- apiGroups: ["inference-operator.dev"]
  resources: ["weightcaches"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: ["inference-operator.dev"]
  resources: ["inferencedeployments/status", "enginebuilds/status", "weightcaches/status"]
  verbs: ["patch"]
# Serving Deployments: server-side apply (patch, and create when absent), retired engines deleted, watched.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Multi-node serving groups (sigs.k8s.io/lws, when installed): server-side apply, deleted, watched.
- apiGroups: ["leaderworkerset.x-k8s.io"]
  resources: ["leaderworkersets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# The Service in front of the active engine: server-side apply; watched (its own, by label) so reconciles read
# it from memory and a deleted or edited one is put back.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Serving pods: watched and listed for the scheduler's verdict (Unschedulable); never written.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
# Engine build Jobs: created once per engine key (immutable), watched for completion.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create"]
# The namespace's engine store claim: created if absent, never changed or deleted.
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "create"]
# Events on InferenceDeployments and EngineBuilds, by the operator and by kopf.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# PodMonitors when the monitoring.coreos.com API is served: server-side apply, deleted when monitoring is off.
- apiGroups: ["monitoring.coreos.com"]
  resources: ["podmonitors"]
  verbs: ["get", "create", "patch", "delete"]
# The HorizontalPodAutoscaler of spec.autoscaling: server-side apply, deleted when autoscaling is turned off.
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "create", "patch", "delete"]
{{- end }}

{{/* Rules on cluster-scoped resources: a ClusterRole in both modes (a Role cannot grant them). */}}
{{- define "inference-operator.clusterRules" -}}
# The PodMonitor CRD is watched so that PodMonitors appear when the monitoring API is installed later.
# kopf watches the whole collection: list/watch cannot be narrowed to that one name. Definitions only.
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- if .Values.builds.requireGPUProductNode }}
# Nodes, listed by GPU product label before a build Job is created: a build for a product no node has waits with
# a condition instead of a Job nobody can place. Read only; without it builds are created unchecked.
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["list"]
{{- end }}
{{- if .Values.ha.enabled }}
# kopf's peering: one ClusterKopfPeering whatever the operator watches. kopf watches the collection
# (list/watch); get/patch are narrowed to the release's peering object.
- apiGroups: ["kopf.dev"]
  resources: ["clusterkopfpeerings"]
  verbs: ["list", "watch"]
- apiGroups: ["kopf.dev"]
  resources: ["clusterkopfpeerings"]
  resourceNames: [{{ include "inference-operator.peeringName" . | quote }}]
  verbs: ["get", "patch"]
{{- end }}
{{- end }}
