{{/*
The API calls the operator makes, as RBAC rules: exactly
seer.operators.rbac.REQUIRED_PERMISSIONS (tests/charts/test_chart_rbac.py compares the
rendered rules with it, so the two cannot drift apart). Split by scope: a namespaced
install (rbac.namespaced) grants only the namespaced rules in a Role.
*/}}

{{/* Rules on namespaced resources: the SeerJobs and what the operator creates for them. */}}
{{- define "seer.rbac.namespacedRules" -}}
- apiGroups: ["seer.dev"]
  resources: ["seerjobs"]
  verbs: ["get", "list", "patch", "watch"]
- apiGroups: ["seer.dev"]
  resources: ["seerjobs/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["create", "delete", "get", "list", "watch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["create", "delete", "get", "list", "watch"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
{{- /* spec.scheduling: Kueue's Workload (queue) and the gang schedulers' PodGroups (docs/operator.md) */}}
- apiGroups: ["kueue.x-k8s.io"]
  resources: ["workloads"]
  verbs: ["create", "delete", "get", "list", "patch", "update", "watch"]
- apiGroups: ["kueue.x-k8s.io"]
  resources: ["workloads/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["scheduling.volcano.sh", "scheduling.x-k8s.io"]
  resources: ["podgroups"]
  verbs: ["create", "delete", "get", "list", "watch"]
{{- end }}

{{/*
Rules on cluster-scoped resources, which a Role cannot grant: kopf's view of the
CustomResourceDefinitions. The operator disables kopf's resource scanning, so a
namespaced install (Role only) runs without them.
*/}}
{{- define "seer.rbac.clusterRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- /* spec.scheduling.queue: the node labels of the Kueue flavors a job was admitted onto */}}
- apiGroups: ["kueue.x-k8s.io"]
  resources: ["resourceflavors"]
  verbs: ["get"]
{{- end }}
