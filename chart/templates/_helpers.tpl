{{/*
Names. One helper per resource, so every template names a thing the same way.
Namespaced names are truncated to 63 characters (label-value and DNS-label safe).
*/}}

{{- define "wandb-launch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wandb-launch.fullname" -}}
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

{{/* fullname + a suffix, within 63 characters: fullname is cut, never the suffix, so
every derived name stays distinct. (list $ "-suffix") */}}
{{- define "wandb-launch.suffixed" -}}
{{- $suffix := index . 1 -}}
{{- printf "%s%s" (include "wandb-launch.fullname" (index . 0) | trunc (sub 63 (len $suffix) | int) | trimSuffix "-" | trimSuffix ".") $suffix -}}
{{- end -}}

{{- define "wandb-launch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The namespace the agent runs in: namespace.name or the release namespace. */}}
{{- define "wandb-launch.agentNamespace" -}}
{{- default .Release.Namespace .Values.namespace.name -}}
{{- end -}}

{{/*
Target namespaces other than the agent's own (whose objects the agent-namespace templates
already make), as a JSON list. One pass: an append per namespace copies the list each time,
and `uniq` compares every pair (at 1,000 targets both were a large part of the template
time); the schema's uniqueItems already refuses a namespace listed twice.
*/}}
{{- define "wandb-launch.otherTargetNamespaces" -}}
{{- toJson (without .Values.targetNamespaces (include "wandb-launch.agentNamespace" .)) -}}
{{- end -}}

{{/*
"true" when a YAML plain scalar would not read back as the same string for one of the
target namespaces (a name such as 123, yes or 1e3): then the per-target templates quote
every namespace. Otherwise they write them bare, 4,000 quote characters fewer at 1,000
targets (one toYaml of the list decides, not one quote per namespace).
*/}}
{{- define "wandb-launch.quoteTargets" -}}
{{- if contains "\"" (toYaml .Values.targetNamespaces) }}true{{ end -}}
{{- end -}}

{{/* A list of namespaces for a person to read: all of them up to five, else the first five and how many in all. */}}
{{- define "wandb-launch.fewNamespaces" -}}
{{- if le (len .) 5 -}}
{{- join ", " . -}}
{{- else -}}
{{- join ", " (slice . 0 5) }}, ... ({{ len . }} in all)
{{- end -}}
{{- end -}}

{{/* "true" when the agent namespace is also a target namespace. */}}
{{- define "wandb-launch.agentNamespaceIsTarget" -}}
{{- has (include "wandb-launch.agentNamespace" .) .Values.targetNamespaces | ternary "true" "" -}}
{{- end -}}

{{- define "wandb-launch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "wandb-launch.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The SDK derives this name from WANDB_RELEASE_NAME: runs read it in their own namespace. */}}
{{- define "wandb-launch.apiKeySecretName" -}}
{{- printf "wandb-api-key-%s" .Release.Name -}}
{{- end -}}

{{/* The secret and key the agent's WANDB_API_KEY comes from. */}}
{{- define "wandb-launch.agentApiKeySecretName" -}}
{{- default (include "wandb-launch.apiKeySecretName" .) .Values.apiKey.existingSecret -}}
{{- end -}}

{{- define "wandb-launch.agentApiKeySecretKey" -}}
{{- if .Values.apiKey.existingSecret -}}
{{- .Values.apiKey.existingSecretKey -}}
{{- else -}}
password
{{- end -}}
{{- end -}}

{{- define "wandb-launch.launchConfigMapName" -}}
{{- include "wandb-launch.suffixed" (list . "-config") -}}
{{- end -}}

{{- define "wandb-launch.selfcheckConfigMapName" -}}
{{- include "wandb-launch.suffixed" (list . "-selfcheck") -}}
{{- end -}}

{{- define "wandb-launch.roleName" -}}
{{- include "wandb-launch.fullname" . -}}
{{- end -}}

{{/* Cluster-scoped: carries the release namespace and name, so two releases never collide. */}}
{{- define "wandb-launch.clusterRoleName" -}}
{{- printf "%s-%s" .Release.Namespace (include "wandb-launch.fullname" .) | trunc 253 | trimSuffix "-" -}}
{{- end -}}

{{/* Cluster-scoped, like the ClusterRole: the release namespace and name keep releases apart. */}}
{{- define "wandb-launch.deletePodsPolicyName" -}}
{{- printf "%s-%s-delete-run-pods" .Release.Namespace (include "wandb-launch.fullname" .) | trunc 253 | trimSuffix "-" -}}
{{- end -}}

{{- define "wandb-launch.deletePodsPolicyBindingName" -}}
{{- include "wandb-launch.deletePodsPolicyName" . -}}
{{- end -}}

{{/*
"true" when the MutatingAdmissionPolicy that gives the agent's Jobs the foregroundDeletion
finalizer is rendered: stoppedRuns.deletePods true, or auto and the API server serves the
kind (helm install/upgrade ask discovery; an offline `helm template` knows only what
--api-versions names).
*/}}
{{- define "wandb-launch.deletePodsPolicyEnabled" -}}
{{- $mode := .Values.stoppedRuns.deletePods -}}
{{- if kindIs "bool" $mode -}}
{{- if $mode }}true{{ end -}}
{{- else if .Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy" -}}
true
{{- end -}}
{{- end -}}

{{/* The user name the API server gives requests made with the agent's service-account token. */}}
{{- define "wandb-launch.agentUserName" -}}
{{- printf "system:serviceaccount:%s:%s" (include "wandb-launch.agentNamespace" .) (include "wandb-launch.serviceAccountName" .) -}}
{{- end -}}

{{- define "wandb-launch.kanikoDockerConfigSecretName" -}}
{{- if .Values.kaniko.dockerConfig.existingSecret -}}
{{- .Values.kaniko.dockerConfig.existingSecret -}}
{{- else -}}
{{- include "wandb-launch.suffixed" (list . "-kaniko-docker-config") -}}
{{- end -}}
{{- end -}}

{{- define "wandb-launch.kanikoCredentialsSecretName" -}}
{{- include "wandb-launch.suffixed" (list . "-kaniko-credentials") -}}
{{- end -}}

{{- define "wandb-launch.kanikoPvcName" -}}
{{- if .Values.kaniko.pvc.existingClaim -}}
{{- .Values.kaniko.pvc.existingClaim -}}
{{- else -}}
{{- include "wandb-launch.suffixed" (list . "-kaniko-context") -}}
{{- end -}}
{{- end -}}

{{/* Hard-coded in the SDK (builder/kaniko_builder.py): secret azure-storage-access-key, key password. */}}
{{- define "wandb-launch.azureStorageSecretName" -}}
azure-storage-access-key
{{- end -}}

{{- define "wandb-launch.gitCredentialsSecretName" -}}
{{- if .Values.git.existingSecret -}}
{{- .Values.git.existingSecret -}}
{{- else -}}
{{- include "wandb-launch.suffixed" (list . "-git-credentials") -}}
{{- end -}}
{{- end -}}

{{- define "wandb-launch.sshConfigMapName" -}}
{{- include "wandb-launch.suffixed" (list . "-ssh") -}}
{{- end -}}

{{- define "wandb-launch.networkPolicyName" -}}
{{- include "wandb-launch.fullname" . -}}
{{- end -}}

{{- define "wandb-launch.pdbName" -}}
{{- include "wandb-launch.fullname" . -}}
{{- end -}}

{{- define "wandb-launch.testPodName" -}}
{{- include "wandb-launch.suffixed" (list . "-test") -}}
{{- end -}}

{{/* A label selector (`k=v,k=v`) from a labels helper's output. */}}
{{- define "wandb-launch.selectorString" -}}
{{- $pairs := list -}}
{{- range $key, $value := (. | fromYaml) -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/*
Every name the chart gives this release's objects, as one YAML map: rendered into the
names ConfigMap, which the plugin reads (`helm template` before an install, `helm get
manifest` after) instead of computing names itself.
*/}}
{{- define "wandb-launch.names" -}}
release: {{ .Release.Name | quote }}
releaseNamespace: {{ .Release.Namespace | quote }}
fullname: {{ include "wandb-launch.fullname" . | quote }}
agentNamespace: {{ include "wandb-launch.agentNamespace" . | quote }}
deployment: {{ include "wandb-launch.fullname" . | quote }}
serviceAccount: {{ include "wandb-launch.serviceAccountName" . | quote }}
launchConfigMap: {{ include "wandb-launch.launchConfigMapName" . | quote }}
apiKeySecret: {{ include "wandb-launch.apiKeySecretName" . | quote }}
agentApiKeySecret: {{ include "wandb-launch.agentApiKeySecretName" . | quote }}
agentApiKeySecretKey: {{ include "wandb-launch.agentApiKeySecretKey" . | quote }}
kanikoCredentialsSecret: {{ include "wandb-launch.kanikoCredentialsSecretName" . | quote }}
deletePodsPolicy: {{ include "wandb-launch.deletePodsPolicyName" . | quote }}
deletePodsPolicyBinding: {{ include "wandb-launch.deletePodsPolicyBindingName" . | quote }}
deletePodsPolicyRendered: {{ include "wandb-launch.deletePodsPolicyEnabled" . | quote }}
releaseSelector: {{ include "wandb-launch.selectorString" (include "wandb-launch.selectorLabels" .) | quote }}
agentSelector: {{ include "wandb-launch.selectorString" (include "wandb-launch.agentSelectorLabels" .) | quote }}
{{- end -}}

{{- define "wandb-launch.namesConfigMapName" -}}
{{- include "wandb-launch.suffixed" (list . "-names") -}}
{{- end -}}

{{/*
Labels. Selector labels are a stable subset: never the chart version (selectors are immutable).
*/}}
{{- define "wandb-launch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wandb-launch.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{/* The agent pods: the test pod must not match the Deployment's or the PDB's selector. */}}
{{- define "wandb-launch.agentSelectorLabels" -}}
{{ include "wandb-launch.selectorLabels" . }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "wandb-launch.labels" -}}
helm.sh/chart: {{ include "wandb-launch.chart" . }}
{{ include "wandb-launch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wandb-launch
{{- end -}}

{{/*
Labels of the objects made once per target namespace (its RoleBinding, its Role without
rbac.useClusterRole, its API-key secret): the selector labels, which the plugin and `kubectl
-l` select a release's objects by. Helm itself adds app.kubernetes.io/managed-by to every
object it applies. Not the chart and app versions: they would make every chart upgrade
rewrite every target's objects, and with 1,000 targets these labels were a third of what
the chart renders.
*/}}
{{- define "wandb-launch.targetLabels" -}}
{{ include "wandb-launch.selectorLabels" . }}
{{- end -}}

{{/* The agent image: digest wins over tag; the tag defaults to appVersion. */}}
{{- define "wandb-launch.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Pod Security level enforced on a created agent namespace: `baseline` when pods that meet
only baseline run there (kaniko builds; runs, when it is also a target: the SDK's run pods
have no runAsNonRoot), else `restricted` (the agent pod meets it).
*/}}
{{- define "wandb-launch.podSecurityEnforce" -}}
{{- if .Values.namespace.podSecurity.enforce -}}
{{- .Values.namespace.podSecurity.enforce -}}
{{- else if or (eq .Values.launchConfig.builder.type "kaniko") (include "wandb-launch.agentNamespaceIsTarget" .) -}}
baseline
{{- else -}}
restricted
{{- end -}}
{{- end -}}

{{- define "wandb-launch.kanikoPvcEnabled" -}}
{{- if or .Values.kaniko.pvc.create .Values.kaniko.pvc.existingClaim -}}true{{- end -}}
{{- end -}}

{{- define "wandb-launch.kanikoDockerConfigEnabled" -}}
{{- if or .Values.kaniko.dockerConfig.json .Values.kaniko.dockerConfig.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "wandb-launch.gitCredentialsEnabled" -}}
{{- if or .Values.git.credentials .Values.git.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "wandb-launch.sshEnabled" -}}
{{- if .Values.git.sshAuthSecrets -}}true{{- end -}}
{{- end -}}

{{/* Where private-source files are mounted in the agent container. */}}
{{- define "wandb-launch.gitCredentialsDir" -}}/etc/wandb-launch/git{{- end -}}
{{- define "wandb-launch.sshDir" -}}/etc/wandb-launch/ssh{{- end -}}
{{- define "wandb-launch.caBundleDir" -}}/etc/wandb-launch/ca{{- end -}}
{{- define "wandb-launch.configDir" -}}/home/launch_agent/.config/wandb{{- end -}}

{{/*
launch-config.yaml: the structured values in the SDK's own key spelling
(AgentConfig: snake_case at the top, dashes inside builder), then extraConfig merged last.
*/}}
{{- define "wandb-launch.launchConfig" -}}
{{- $lc := .Values.launchConfig -}}
{{- $cfg := dict "queues" $lc.queues "max_jobs" $lc.maxJobs "max_schedulers" $lc.maxSchedulers "secure_mode" $lc.secureMode "verbosity" $lc.verbosity -}}
{{- with $lc.entity }}{{ $_ := set $cfg "entity" . }}{{ end -}}
{{- if not (kindIs "invalid" $lc.stoppedRunTimeout) }}{{ $_ := set $cfg "stopped_run_timeout" $lc.stoppedRunTimeout }}{{ end -}}
{{- with $lc.environment.type -}}
{{- $_ := set $cfg "environment" (dict "type" . "region" $lc.environment.region) -}}
{{- end -}}
{{- $b := $lc.builder -}}
{{- $builder := dict "type" $b.type -}}
{{- with $b.destination }}{{ $_ := set $builder "destination" . }}{{ end -}}
{{- with $b.platform }}{{ $_ := set $builder "platform" . }}{{ end -}}
{{- with $b.buildContextStore }}{{ $_ := set $builder "build-context-store" . }}{{ end -}}
{{- with $b.buildJobName }}{{ $_ := set $builder "build-job-name" . }}{{ end -}}
{{- with $b.secretName }}{{ $_ := set $builder "secret-name" . }}{{ end -}}
{{- with $b.secretKey }}{{ $_ := set $builder "secret-key" . }}{{ end -}}
{{- if .Values.kaniko.buildCredentials.value -}}
{{- $_ := set $builder "secret-name" (include "wandb-launch.kanikoCredentialsSecretName" .) -}}
{{- $_ := set $builder "secret-key" "credentials" -}}
{{- end -}}
{{- with $b.kanikoImage }}{{ $_ := set $builder "kaniko-image" . }}{{ end -}}
{{- with $b.kanikoConfig }}{{ $_ := set $builder "kaniko-config" (deepCopy .) }}{{ end -}}
{{- $_ := set $cfg "builder" $builder -}}
{{- $cfg = mustMergeOverwrite $cfg (deepCopy $lc.extraConfig) -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
RBAC rules: the lists of files/agent-rbac.yaml, the one record of the agent's API calls
(the plugin's `verify` and the `helm test` pod check the same file).
*/}}
{{- define "wandb-launch.agentRbac" -}}
{{- .Files.Get "files/agent-rbac.yaml" -}}
{{- end -}}

{{/*
A list of rules in flow style, one JSON rule per line (JSON is YAML): a fifth of the block
style's bytes, and a Role is rendered in every target namespace without rbac.useClusterRole.
*/}}
{{- define "wandb-launch.flowRules" -}}
{{- range . }}
- {{ toJson . }}
{{- end }}
{{- end -}}

{{- define "wandb-launch.rules.target" -}}
{{- include "wandb-launch.flowRules" (include "wandb-launch.agentRbac" . | fromYaml).target -}}
{{- end -}}

{{/* Only in the agent's own namespace, with the kaniko builder: its build Jobs live there. */}}
{{- define "wandb-launch.rules.agentNamespace" -}}
{{- include "wandb-launch.flowRules" (include "wandb-launch.agentRbac" . | fromYaml).agentNamespace -}}
{{- end -}}

{{/* "true" when the agent builds images with kaniko (the builder type of the rendered launch config). */}}
{{- define "wandb-launch.kanikoBuilds" -}}
{{- if eq (toString ((include "wandb-launch.launchConfig" . | fromYaml).builder).type) "kaniko" }}true{{ end -}}
{{- end -}}

{{/* "true" when the agent needs any right in its own namespace: kaniko builds, or runs there. */}}
{{- define "wandb-launch.agentNamespaceRole" -}}
{{- if or (include "wandb-launch.kanikoBuilds" .) (include "wandb-launch.agentNamespaceIsTarget" .) }}true{{ end -}}
{{- end -}}

{{- define "wandb-launch.rules.additionalServices" -}}
{{- include "wandb-launch.flowRules" (include "wandb-launch.agentRbac" . | fromYaml).additionalServices -}}
{{- end -}}

{{/* Everything a target namespace grants: the base needs, additional services, extra rules. */}}
{{- define "wandb-launch.rules.targetAll" -}}
{{- include "wandb-launch.rules.target" . }}
{{- if .Values.rbac.additionalServices }}
{{- include "wandb-launch.rules.additionalServices" . }}
{{- end }}
{{- include "wandb-launch.flowRules" .Values.rbac.extraRules }}
{{- end -}}

{{/* The agent namespace's Role: what kaniko builds need, and a target's rules when it is a target too. */}}
{{- define "wandb-launch.rules.agentAll" -}}
{{- if include "wandb-launch.agentNamespaceIsTarget" . }}
{{- include "wandb-launch.rules.targetAll" . }}
{{- end }}
{{- if include "wandb-launch.kanikoBuilds" . }}
{{- include "wandb-launch.rules.agentNamespace" . }}
{{- end }}
{{- end -}}

{{/*
Checkov's "no default namespace" check (CKV_K8S_21), skipped only for objects that are in
`default` by the user's choice. Call with (dict "ctx" $ "namespace" <ns>).
*/}}
{{- define "wandb-launch.defaultNamespaceSkip" -}}
{{- if eq .namespace "default" -}}
{{- if eq .namespace (include "wandb-launch.agentNamespace" .ctx) -}}
checkov.io/skip21: CKV_K8S_21=the agent was installed into the release namespace default (helm -n); set namespace.name to give it its own
{{- else -}}
checkov.io/skip21: CKV_K8S_21=queue configs without a namespace launch into default, so the agent needs rights and the API key there
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
An object's annotations block: `extra` (a map) plus the default-namespace skip; nothing when empty.
Call with (dict "ctx" $ "namespace" <ns> "extra" <map>).
*/}}
{{- define "wandb-launch.annotations" -}}
{{- $skip := include "wandb-launch.defaultNamespaceSkip" . -}}
{{- if or .extra $skip -}}
annotations:
  {{- with .extra }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  {{- with $skip }}
  {{- . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end -}}
