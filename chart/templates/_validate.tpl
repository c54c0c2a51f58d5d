{{/*
Cross-field rules the values schema cannot express. Each failure is one line that
names the key and the fix, and stops `helm template` / `helm install` before anything
reaches a cluster. URI rules are the SDK's own regexes (wandb/sdk/launch/utils.py).
*/}}

{{- define "wandb-launch.fail" -}}
{{- fail (printf "wandb-launch: %s" .) -}}
{{- end -}}

{{- define "wandb-launch.validate" -}}
{{- $v := .Values -}}
{{- $lc := $v.launchConfig -}}
{{- $b := $lc.builder -}}
{{- $env := $lc.environment.type -}}

{{- /* API key */ -}}
{{- if and $v.apiKey.value $v.apiKey.existingSecret -}}
{{- include "wandb-launch.fail" "apiKey.value and apiKey.existingSecret are both set; keep one of them" -}}
{{- end -}}
{{- if not (or $v.apiKey.value $v.apiKey.existingSecret) -}}
{{- include "wandb-launch.fail" "apiKey.value is required; pass --set apiKey.value=$WANDB_API_KEY or name a secret you manage in apiKey.existingSecret" -}}
{{- end -}}
{{- if and $v.apiKey.existingSecret (not $v.apiKey.existingSecretKey) -}}
{{- include "wandb-launch.fail" "apiKey.existingSecretKey is empty; set it to the key of the API key inside apiKey.existingSecret (e.g. password)" -}}
{{- end -}}

{{- /* Namespaces */ -}}
{{- $dns1123 := `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$` -}}
{{- if and $v.namespace.name (or (gt (len $v.namespace.name) 63) (not (regexMatch $dns1123 $v.namespace.name))) -}}
{{- include "wandb-launch.fail" (printf "namespace.name %q is not a valid namespace name; use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit" $v.namespace.name) -}}
{{- end -}}
{{- if and $v.namespace.create (not $v.namespace.name) -}}
{{- include "wandb-launch.fail" "namespace.name is required when namespace.create is true; name the namespace to create (the release namespace exists before the chart is installed)" -}}
{{- end -}}
{{- /* One match for the whole list, joined by commas (regexMatch compiles its pattern on every
call: once per target was most of this file's time at 1,000 targets); a name holding a comma
shows in the count. The loop runs only to name the first bad one. */ -}}
{{- $dns1123List := `^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:,[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*$` -}}
{{- $joined := join "," $v.targetNamespaces -}}
{{- if and $v.targetNamespaces (not (and (regexMatch $dns1123List $joined) (eq (len (splitList "," $joined)) (len $v.targetNamespaces)))) -}}
{{- range $i, $ns := $v.targetNamespaces -}}
{{- if or (gt (len $ns) 63) (not (regexMatch $dns1123 $ns)) -}}
{{- include "wandb-launch.fail" (printf "targetNamespaces[%d] %q is not a valid namespace name; use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit" $i $ns) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- range $key, $_ := $v.namespace.labels -}}
{{- if hasPrefix "pod-security.kubernetes.io/" $key -}}
{{- include "wandb-launch.fail" (printf "namespace.labels sets %s; set the level in namespace.podSecurity instead" $key) -}}
{{- end -}}
{{- end -}}
{{- range $key, $_ := $v.podLabels -}}
{{- if hasPrefix "app.kubernetes.io/" $key -}}
{{- include "wandb-launch.fail" (printf "podLabels sets %s, which the chart owns (the Deployment selects on it); use another label key" $key) -}}
{{- end -}}
{{- end -}}

{{- /* Service account */ -}}
{{- if and (not $v.serviceAccount.create) (not $v.serviceAccount.name) -}}
{{- include "wandb-launch.fail" "serviceAccount.name is required when serviceAccount.create is false; name the existing service account the agent runs as" -}}
{{- end -}}

{{- /* Launch config */ -}}
{{- if not $lc.queues -}}
{{- include "wandb-launch.fail" "launchConfig.queues is empty; list at least one queue, e.g. --set 'launchConfig.queues={my-queue}'" -}}
{{- end -}}
{{- if lt (int $lc.maxJobs) -1 -}}
{{- include "wandb-launch.fail" (printf "launchConfig.maxJobs is %v; use -1 (unlimited) or a positive number" $lc.maxJobs) -}}
{{- end -}}
{{- if and $env (not $lc.environment.region) -}}
{{- include "wandb-launch.fail" (printf "launchConfig.environment.region is required when launchConfig.environment.type is %s (the SDK requires it even for azure); set it, e.g. us-central1, us-east-1 or eastus" $env) -}}
{{- end -}}
{{- if and $b.secretName (not $b.secretKey) -}}
{{- include "wandb-launch.fail" "launchConfig.builder.secretKey is required when launchConfig.builder.secretName is set; name the key of the credentials inside that secret" -}}
{{- end -}}
{{- if and $b.secretKey (not $b.secretName) -}}
{{- include "wandb-launch.fail" "launchConfig.builder.secretName is required when launchConfig.builder.secretKey is set; name the secret holding the build credentials" -}}
{{- end -}}

{{- /* Kaniko */ -}}
{{- $pvc := include "wandb-launch.kanikoPvcEnabled" . -}}
{{- if and $v.kaniko.pvc.create $v.kaniko.pvc.existingClaim -}}
{{- include "wandb-launch.fail" "kaniko.pvc.create and kaniko.pvc.existingClaim are both set; keep one of them" -}}
{{- end -}}
{{- if and $v.kaniko.buildCredentials.value (or $b.secretName $b.secretKey) -}}
{{- include "wandb-launch.fail" "kaniko.buildCredentials.value and launchConfig.builder.secretName are both set; keep one of them" -}}
{{- end -}}
{{- if and $v.kaniko.dockerConfig.json $v.kaniko.dockerConfig.existingSecret -}}
{{- include "wandb-launch.fail" "kaniko.dockerConfig.json and kaniko.dockerConfig.existingSecret are both set; keep one of them" -}}
{{- end -}}
{{- if and $v.git.credentials $v.git.existingSecret -}}
{{- include "wandb-launch.fail" "git.credentials and git.existingSecret are both set; keep one of them" -}}
{{- end -}}

{{- $gcs := `^gs://([^/]+)(?:/(.*))?` -}}
{{- $s3 := `^s3://([^/]+)(/(.*))?` -}}
{{- $blob := `^https://([^\.]+)\.blob\.core\.windows\.net/([^/]+)/?(.*)$` -}}
{{- $storeHint := "gs://<bucket>/<prefix>, s3://<bucket>/<prefix> or https://<account>.blob.core.windows.net/<container>/<prefix>" -}}
{{- with $b.buildContextStore -}}
{{- if not (or (regexMatch $gcs .) (regexMatch $s3 .) (regexMatch $blob .)) -}}
{{- include "wandb-launch.fail" (printf "launchConfig.builder.buildContextStore %q is not a GCS, S3 or Azure blob URI; set it to %s" . $storeHint) -}}
{{- end -}}
{{- $want := dict "gcp" $gcs "aws" $s3 "azure" $blob -}}
{{- $wantHint := dict "gcp" "gs://<bucket>/<prefix>" "aws" "s3://<bucket>/<prefix>" "azure" "https://<account>.blob.core.windows.net/<container>/<prefix>" -}}
{{- if and $env (not (regexMatch (get $want $env) .)) -}}
{{- include "wandb-launch.fail" (printf "launchConfig.builder.buildContextStore %q does not belong to launchConfig.environment.type %s; set it to %s" . $env (get $wantHint $env)) -}}
{{- end -}}
{{- end -}}

{{- if eq $b.type "kaniko" -}}
{{- if not (or $b.buildContextStore $pvc) -}}
{{- include "wandb-launch.fail" (printf "launchConfig.builder.buildContextStore is required when builder.type is kaniko; set it to %s (or give kaniko a volume with kaniko.pvc.create)" $storeHint) -}}
{{- end -}}
{{- if and (not $env) (not $pvc) -}}
{{- include "wandb-launch.fail" "launchConfig.environment.type is required when builder.type is kaniko with a bucket build context (the agent uploads the context with the cloud's SDK); set it to gcp, aws or azure" -}}
{{- end -}}
{{- if not $b.destination -}}
{{- include "wandb-launch.fail" "launchConfig.builder.destination is required when builder.type is kaniko; set it to the repository images are pushed to, without a tag" -}}
{{- end -}}
{{- if and (eq $env "azure") (ne (include "wandb-launch.agentNamespace" .) "wandb") -}}
{{- include "wandb-launch.fail" (printf "namespace.name is %q but an azure kaniko agent must run in namespace wandb (the SDK reads secret azure-storage-access-key and writes build configmaps there); set namespace.name=wandb" (include "wandb-launch.agentNamespace" .)) -}}
{{- end -}}
{{- end -}}

{{- with $b.destination -}}
{{- $gar := `(?i)^(?:https://)?(?P<region>[\w-]+)-docker\.pkg\.dev/(?P<project>[\w-]+)/(?P<repository>[\w-]+)/?(?P<image_name>[\w-]+)?(?P<tag>:.*)?$` -}}
{{- $ecr := `^(?:https://)?(?P<account>[\w-]+)\.dkr\.ecr\.(?P<region>[\w-]+)\.amazonaws\.com/(?P<repository>[\.\/\w-]+):?(?P<tag>.*)$` -}}
{{- $acr := `^(?:https://)?([\w]+)\.azurecr\.io/(?P<repository>[\w\-]+):?(?P<tag>.*)$` -}}
{{- $kind := "" -}}
{{- $tag := "" -}}
{{- if regexMatch $gar . -}}
{{- $kind = "gcp" -}}
{{- $tag = regexReplaceAll $gar . "${tag}" -}}
{{- if not (regexReplaceAll $gar . "${image_name}") -}}
{{- include "wandb-launch.fail" (printf "launchConfig.builder.destination %q has no image name; use <region>-docker.pkg.dev/<project>/<repository>/<image>" .) -}}
{{- end -}}
{{- else if regexMatch $acr . -}}
{{- $kind = "azure" -}}
{{- $tag = regexReplaceAll $acr . "${tag}" -}}
{{- else if regexMatch $ecr . -}}
{{- $kind = "aws" -}}
{{- $tag = regexReplaceAll $ecr . "${tag}" -}}
{{- end -}}
{{- if $tag -}}
{{- include "wandb-launch.fail" (printf "launchConfig.builder.destination %q carries a tag or nested path (%s); drop it: the agent tags each image itself, and ACR takes a single path segment" . $tag) -}}
{{- end -}}
{{- $hint := dict "gcp" "<region>-docker.pkg.dev/<project>/<repository>/<image> (Artifact Registry)" "aws" "<account>.dkr.ecr.<region>.amazonaws.com/<repository> (ECR)" "azure" "<registry>.azurecr.io/<repository> (ACR)" -}}
{{- if and $env (ne $kind $env) -}}
{{- include "wandb-launch.fail" (printf "launchConfig.builder.destination %q is not a registry of launchConfig.environment.type %s; set it to %s" . $env (get $hint $env)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
