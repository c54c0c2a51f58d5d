{{/*
Rules the values schema cannot express. `wandb-launch.problems` lists every problem of
the values (JSON, one line each: the key and the fix); `wandb-launch.validate` stops
`helm template` / `helm install` with the first, before anything reaches a cluster.
URI rules are the SDK's own regexes (wandb/sdk/launch/utils.py).
*/}}

{{- define "wandb-launch.fail" -}}
{{- fail (printf "wandb-launch: %s" .) -}}
{{- end -}}

{{/*
Rules of single values, each the API server's own rule for the field the value ends up in
(k8s.io/apimachinery validation: DNS-1123 labels and subdomains, qualified names, label
values, config keys, quantities) or the agent's. Each takes (list KEY VALUE ...) and
returns "" or one problem line naming KEY.
*/}}

{{/* A value as a problem line shows it: quoted, long ones cut. */}}
{{- define "wandb-launch.shown" -}}
{{- $s := toString . -}}
{{- if gt (len $s) 64 -}}
{{- printf "%q... (%d characters)" (trunc 48 $s) (len $s) -}}
{{- else -}}
{{- printf "%q" $s -}}
{{- end -}}
{{- end -}}

{{/* (list key value what): a DNS-1123 label, e.g. a namespace or volume name. */}}
{{- define "wandb-launch.rule.dnsLabel" -}}
{{- $value := toString (index . 1) -}}
{{- if or (gt (len $value) 63) (not (regexMatch `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$` $value)) -}}
{{- printf "%s %s is not a valid %s; use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit" (index . 0) (include "wandb-launch.shown" $value) (index . 2) -}}
{{- end -}}
{{- end -}}

{{/* (list key value what): a DNS-1123 subdomain, the name of most objects (secrets, config maps, service accounts, PVCs, priority classes). */}}
{{- define "wandb-launch.rule.subdomain" -}}
{{- $value := toString (index . 1) -}}
{{- if or (gt (len $value) 253) (not (regexMatch `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$` $value)) -}}
{{- printf "%s %s is not a valid %s; use at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit" (index . 0) (include "wandb-launch.shown" $value) (index . 2) -}}
{{- end -}}
{{- end -}}

{{/* (list key value): a label value. */}}
{{- define "wandb-launch.rule.labelValue" -}}
{{- $value := toString (index . 1) -}}
{{- if or (gt (len $value) 63) (not (regexMatch `^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$` $value)) -}}
{{- printf "%s %s is not a valid label value; use at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit" (index . 0) (include "wandb-launch.shown" $value) -}}
{{- end -}}
{{- end -}}

{{/* (list key name): a label or annotation key: an optional DNS subdomain prefix and '/', then a name. */}}
{{- define "wandb-launch.rule.qualifiedName" -}}
{{- $key := toString (index . 1) -}}
{{- $parts := splitList "/" $key -}}
{{- $name := last $parts -}}
{{- $prefixOk := or (eq (len $parts) 1) (and (eq (len $parts) 2) (le (len (first $parts)) 253) (regexMatch `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$` (first $parts))) -}}
{{- if not (and $prefixOk (le (len $name) 63) (regexMatch `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$` $name)) -}}
{{- printf "%s has key %s, which is not a valid key; use an optional DNS prefix and '/' (e.g. example.com/), then at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit" (index . 0) (include "wandb-launch.shown" $key) -}}
{{- end -}}
{{- end -}}

{{/* (list key map): labels; keys the chart sets itself are refused (they select its objects). */}}
{{- define "wandb-launch.rule.labels" -}}
{{- $where := index . 0 -}}
{{- $problem := "" -}}
{{- range $k, $value := index . 1 -}}
{{- if not $problem -}}
{{- $problem = include "wandb-launch.rule.qualifiedName" (list $where $k) -}}
{{- end -}}
{{- if and (not $problem) (or (hasPrefix "app.kubernetes.io/" $k) (eq $k "helm.sh/chart")) -}}
{{- $problem = printf "%s sets %s, which the chart owns (it selects the release's objects by it); use another label key" $where $k -}}
{{- end -}}
{{- if not $problem -}}
{{- $problem = include "wandb-launch.rule.labelValue" (list (printf "%s.%s" $where $k) $value) -}}
{{- end -}}
{{- end -}}
{{- $problem -}}
{{- end -}}

{{/* (list key map): annotations: keys as labels' (any case), 256 KiB in all (the chart's own included: 1 KiB is kept for them). */}}
{{- define "wandb-launch.rule.annotations" -}}
{{- $where := index . 0 -}}
{{- $problem := "" -}}
{{- $size := 0 -}}
{{- range $k, $value := index . 1 -}}
{{- $size = add $size (len $k) (len (toString $value)) -}}
{{- if not $problem -}}
{{- $problem = include "wandb-launch.rule.qualifiedName" (list $where (lower $k)) -}}
{{- end -}}
{{- end -}}
{{- if and (not $problem) (gt $size 261120) -}}
{{- $problem = printf "%s holds %d bytes; annotations may hold 256 KiB in all (the chart adds its own): keep them under 255 KiB" $where $size -}}
{{- end -}}
{{- $problem -}}
{{- end -}}

{{/* (list key value): a key of a secret or config map. */}}
{{- define "wandb-launch.rule.dataKey" -}}
{{- $value := toString (index . 1) -}}
{{- if or (gt (len $value) 253) (not (regexMatch `^[-._a-zA-Z0-9]+$` $value)) (hasPrefix ".." $value) (eq $value ".") -}}
{{- printf "%s %s is not a valid key of a secret or config map; use at most 253 letters, digits, '-', '_' and '.', not starting with '..'" (index . 0) (include "wandb-launch.shown" $value) -}}
{{- end -}}
{{- end -}}

{{/* (list key value): data of a secret or config map: 1 MiB at most. */}}
{{- define "wandb-launch.rule.dataSize" -}}
{{- if gt (len (toString (index . 1))) 1048000 -}}
{{- printf "%s is %d bytes; a secret or config map holds 1 MiB at most: store it elsewhere" (index . 0) (len (toString (index . 1))) -}}
{{- end -}}
{{- end -}}

{{/* A quantity's value as a number ("" when it is not a non-negative Kubernetes quantity: 500m, 2, 1.5Gi, 1e3). */}}
{{- define "wandb-launch.quantity" -}}
{{- $q := toString . -}}
{{- $re := `^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]{1,2})?$` -}}
{{- if regexMatch $re $q -}}
{{- $number := regexReplaceAll $re $q "${1}" | float64 -}}
{{- $suffix := regexReplaceAll $re $q "${2}" -}}
{{- $scale := dict "" 1.0 "n" 0.000000001 "u" 0.000001 "m" 0.001 "k" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0 "P" 1000000000000000.0 "E" 1000000000000000000.0 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- if hasKey $scale $suffix -}}
{{- $number = mulf $number (get $scale $suffix) -}}
{{- else -}}
{{- $exponent := atoi (substr 1 -1 $suffix) -}}
{{- range until (int (max $exponent (sub 0 $exponent))) -}}
{{- $number = ternary (mulf $number 10.0) (divf $number 10.0) (gt $exponent 0) -}}
{{- end -}}
{{- end -}}
{{- printf "%f" $number -}}
{{- end -}}
{{- end -}}

{{/* (list key value): a non-negative quantity. */}}
{{- define "wandb-launch.rule.quantity" -}}
{{- if not (include "wandb-launch.quantity" (index . 1)) -}}
{{- printf "%s %s is not a Kubernetes quantity; use a non-negative number with an optional suffix, e.g. 500m, 2, 512Mi or 1Gi" (index . 0) (include "wandb-launch.shown" (index . 1)) -}}
{{- end -}}
{{- end -}}

{{/* (list key resources): requests and limits are quantities, requests within limits. */}}
{{- define "wandb-launch.rule.resources" -}}
{{- $where := index . 0 -}}
{{- $r := index . 1 -}}
{{- $problem := "" -}}
{{- range $kind := list "requests" "limits" -}}
{{- range $name, $q := default (dict) (get $r $kind) -}}
{{- if not $problem -}}
{{- $problem = include "wandb-launch.rule.quantity" (list (printf "%s.%s.%s" $where $kind $name) $q) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not $problem -}}
{{- $limits := default (dict) $r.limits -}}
{{- range $name, $request := default (dict) $r.requests -}}
{{- $limit := get $limits $name -}}
{{- if and (not $problem) (hasKey $limits $name) (gt (float64 (include "wandb-launch.quantity" $request)) (float64 (include "wandb-launch.quantity" $limit))) -}}
{{- $problem = printf "%s.requests.%s %v is more than %s.limits.%s %v; a request must be within its limit" $where $name $request $where $name $limit -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $problem -}}
{{- end -}}

{{/* (list key value): an image repository, as the container runtime parses references: an optional registry host, then lower-case path components. */}}
{{- define "wandb-launch.rule.repository" -}}
{{- $value := toString (index . 1) -}}
{{- $path := `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*` -}}
{{- $re := printf `^(?:(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+(?::[0-9]+)?|[a-zA-Z0-9-]+:[0-9]+|localhost)/)?%s(?:/%s)*$` $path $path -}}
{{- if or (gt (len $value) 255) (not (regexMatch $re $value)) -}}
{{- printf "%s %s is not an image repository the container runtime can pull; use [registry/]path in lower case, e.g. wandb/launch-agent or registry.example.com:5000/mirror/launch-agent" (index . 0) (include "wandb-launch.shown" $value) -}}
{{- end -}}
{{- end -}}

{{/* (list key value): a whole image reference: repository[:tag][@digest]. */}}
{{- define "wandb-launch.rule.image" -}}
{{- $value := toString (index . 1) -}}
{{- $repository := regexReplaceAll `(@[^@]*)$` $value "" -}}
{{- $digest := trimPrefix $repository $value -}}
{{- $tag := "" -}}
{{- if regexMatch `:[^/:]*$` $repository -}}
{{- $tag = regexFind `:[^/:]*$` $repository -}}
{{- $repository = trimSuffix $tag $repository -}}
{{- end -}}
{{- $tagOk := or (not $tag) (regexMatch `^:[\w][\w.-]{0,127}$` $tag) -}}
{{- $digestOk := or (not $digest) (regexMatch `^@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$` $digest) -}}
{{- if not (and $tagOk $digestOk (not (include "wandb-launch.rule.repository" (list "" $repository)))) -}}
{{- printf "%s %s is not an image reference the container runtime can pull; use [registry/]path[:tag][@sha256:digest] in lower case, e.g. gcr.io/kaniko-project/executor:v1.23.2" (index . 0) (include "wandb-launch.shown" $value) -}}
{{- end -}}
{{- end -}}

{{/* (list key path): an absolute path without '..'. */}}
{{- define "wandb-launch.rule.absolutePath" -}}
{{- $value := toString (index . 1) -}}
{{- if or (not (hasPrefix "/" $value)) (has ".." (splitList "/" $value)) (contains ":" $value) -}}
{{- printf "%s %s is not an absolute path; use one such as /kaniko-context (no '..', no ':')" (index . 0) (include "wandb-launch.shown" $value) -}}
{{- end -}}
{{- end -}}

{{- define "wandb-launch.problems" -}}
{{- $p := list -}}
{{- $v := .Values -}}
{{- $lc := $v.launchConfig -}}
{{- $b := $lc.builder -}}
{{- $env := $lc.environment.type -}}
{{- $kaniko := eq $b.type "kaniko" -}}

{{- /* Names the chart derives: fullname (objects) and name (a label), from the overrides or the release name. */ -}}
{{- $nameKey := "the release name" -}}
{{- if $v.fullnameOverride -}}
{{- $nameKey = "fullnameOverride" -}}
{{- else if $v.nameOverride -}}
{{- $nameKey = "nameOverride" -}}
{{- end -}}
{{- $p = append $p (include "wandb-launch.rule.labelValue" (list "nameOverride" (include "wandb-launch.name" .))) -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list $nameKey (include "wandb-launch.fullname" .) "name for the release's objects (they are named after it)")) -}}

{{- /* API key */ -}}
{{- if and $v.apiKey.value $v.apiKey.existingSecret -}}
{{- $p = append $p "apiKey.value and apiKey.existingSecret are both set; keep one of them" -}}
{{- end -}}
{{- if not (or $v.apiKey.value $v.apiKey.existingSecret) -}}
{{- $p = append $p "apiKey.value is required; pass --set apiKey.value=$WANDB_API_KEY or name a secret you manage in apiKey.existingSecret" -}}
{{- end -}}
{{- with $v.apiKey.value -}}
{{- $p = append $p (include "wandb-launch.rule.dataSize" (list "apiKey.value" .)) -}}
{{- /* The SDK's own check of a key (wandb/sdk/lib/wbauth/validation.py, check_api_key): a JWT, or [prefix-]secret of 40+ letters, digits and '_'. */ -}}
{{- $secret := regexReplaceAll `^[^-]*-` . "" -}}
{{- if not (or (regexMatch `^[\w-]+\.[\w-]+\.[\w-]+$` .) (and (regexMatch `^[\w-]+$` $secret) (ge (len $secret) 40))) -}}
{{- $p = append $p (printf "apiKey.value (%d characters) is not a W&B API key the agent accepts (the SDK's check_api_key: 40+ letters, digits and '_', after an optional prefix and '-'; no spaces or newlines); pass the key itself, e.g. --set apiKey.value=$WANDB_API_KEY" (len .)) -}}
{{- end -}}
{{- end -}}
{{- with $v.apiKey.existingSecret -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list "apiKey.existingSecret" . "secret name")) -}}
{{- if not $v.apiKey.existingSecretKey -}}
{{- $p = append $p "apiKey.existingSecretKey is empty; set it to the key of the API key inside apiKey.existingSecret (e.g. password)" -}}
{{- else -}}
{{- $p = append $p (include "wandb-launch.rule.dataKey" (list "apiKey.existingSecretKey" $v.apiKey.existingSecretKey)) -}}
{{- end -}}
{{- end -}}

{{- /* Base URL: the SDK's settings refuse wandb.ai hosts other than https://api.wandb.ai */ -}}
{{- if and (regexMatch `^https?://([^/:]*\.)?wandb\.ai([:/]|$)` $v.baseUrl) (not (regexMatch `^https://api\.wandb\.ai(:[0-9]+)?/?$` $v.baseUrl)) -}}
{{- $p = append $p (printf "baseUrl %s is not a W&B server address the SDK accepts; use https://api.wandb.ai for W&B's cloud, or your server's URL" (include "wandb-launch.shown" $v.baseUrl)) -}}
{{- end -}}

{{- /* Namespaces */ -}}
{{- with $v.namespace.name -}}
{{- $p = append $p (include "wandb-launch.rule.dnsLabel" (list "namespace.name" . "namespace name")) -}}
{{- end -}}
{{- if and $v.namespace.create (not $v.namespace.name) -}}
{{- $p = append $p "namespace.name is required when namespace.create is true; name the namespace to create (the release namespace exists before the chart is installed)" -}}
{{- end -}}
{{- /* One match for the whole list, joined by commas (regexMatch compiles its pattern on every
call: once per target was most of this file's time at 1,000 targets); a name holding a comma
shows in the count. The loop runs only to name the bad ones. */ -}}
{{- $dns1123List := `^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:,[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*$` -}}
{{- $joined := join "," $v.targetNamespaces -}}
{{- if and $v.targetNamespaces (not (and (regexMatch $dns1123List $joined) (eq (len (splitList "," $joined)) (len $v.targetNamespaces)))) -}}
{{- range $i, $ns := $v.targetNamespaces -}}
{{- $p = append $p (include "wandb-launch.rule.dnsLabel" (list (printf "targetNamespaces[%d]" $i) $ns "namespace name")) -}}
{{- end -}}
{{- end -}}

{{- range $key, $_ := $v.namespace.labels -}}
{{- if hasPrefix "pod-security.kubernetes.io/" $key -}}
{{- $p = append $p (printf "namespace.labels sets %s; set the level in namespace.podSecurity instead" $key) -}}
{{- end -}}
{{- end -}}
{{- $p = append $p (include "wandb-launch.rule.labels" (list "namespace.labels" $v.namespace.labels)) -}}
{{- $p = append $p (include "wandb-launch.rule.annotations" (list "namespace.annotations" $v.namespace.annotations)) -}}
{{- if and (not $v.namespace.create) (or $v.namespace.labels $v.namespace.annotations) -}}
{{- $p = append $p "namespace.labels and namespace.annotations apply only to a namespace the chart creates, and namespace.create is false; set namespace.create=true or drop them" -}}
{{- end -}}

{{- /* Pod labels and annotations, node selector */ -}}
{{- $p = append $p (include "wandb-launch.rule.labels" (list "podLabels" $v.podLabels)) -}}
{{- $p = append $p (include "wandb-launch.rule.annotations" (list "podAnnotations" $v.podAnnotations)) -}}
{{- range $k, $value := $v.nodeSelector -}}
{{- $p = append $p (include "wandb-launch.rule.qualifiedName" (list "nodeSelector" $k)) -}}
{{- $p = append $p (include "wandb-launch.rule.labelValue" (list (printf "nodeSelector.%s" $k) $value)) -}}
{{- end -}}

{{- /* Service account */ -}}
{{- if and (not $v.serviceAccount.create) (not $v.serviceAccount.name) -}}
{{- $p = append $p "serviceAccount.name is required when serviceAccount.create is false; name the existing service account the agent runs as" -}}
{{- end -}}
{{- with $v.serviceAccount.name -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list "serviceAccount.name" . "service account name")) -}}
{{- end -}}
{{- $p = append $p (include "wandb-launch.rule.labels" (list "serviceAccount.labels" $v.serviceAccount.labels)) -}}
{{- $p = append $p (include "wandb-launch.rule.annotations" (list "serviceAccount.annotations" $v.serviceAccount.annotations)) -}}
{{- if and (not $v.serviceAccount.create) (or $v.serviceAccount.annotations $v.serviceAccount.labels) -}}
{{- $p = append $p "serviceAccount.annotations and serviceAccount.labels apply only to a service account the chart creates, and serviceAccount.create is false; put them on your service account, or set serviceAccount.create=true" -}}
{{- end -}}

{{- /* RBAC */ -}}
{{- /* Not rbac.useClusterRole: it is on by default, and says nothing when no role is created. */ -}}
{{- if and (not $v.rbac.create) (or $v.rbac.extraRules $v.rbac.additionalServices) -}}
{{- $p = append $p "rbac.extraRules and rbac.additionalServices shape the roles the chart creates, and rbac.create is false; set rbac.create=true or drop them" -}}
{{- end -}}

{{- /* Launch config */ -}}
{{- if not $lc.queues -}}
{{- $p = append $p "launchConfig.queues is empty; list at least one queue, e.g. --set 'launchConfig.queues={my-queue}'" -}}
{{- end -}}
{{- if or (lt (int $lc.maxJobs) -1) (eq (int $lc.maxJobs) 0) -}}
{{- $p = append $p (printf "launchConfig.maxJobs is %v; use -1 (unlimited) or a positive number (with 0 the agent runs nothing)" $lc.maxJobs) -}}
{{- end -}}
{{- if and $env (not $lc.environment.region) -}}
{{- $p = append $p (printf "launchConfig.environment.region is required when launchConfig.environment.type is %s (the SDK requires it even for azure); set it, e.g. us-central1, us-east-1 or eastus" $env) -}}
{{- end -}}
{{- if and (not $env) $lc.environment.region -}}
{{- $p = append $p "launchConfig.environment.region is set but launchConfig.environment.type is empty, so the agent never reads it; set the type (gcp, aws or azure) or drop the region" -}}
{{- end -}}
{{- if and $b.secretName (not $b.secretKey) -}}
{{- $p = append $p "launchConfig.builder.secretKey is required when launchConfig.builder.secretName is set; name the key of the credentials inside that secret" -}}
{{- end -}}
{{- if and $b.secretKey (not $b.secretName) -}}
{{- $p = append $p "launchConfig.builder.secretName is required when launchConfig.builder.secretKey is set; name the secret holding the build credentials" -}}
{{- end -}}
{{- with $b.secretName -}}
{{- /* The SDK mounts it as a volume of the same name (kaniko_builder.py): a DNS label. */ -}}
{{- $p = append $p (include "wandb-launch.rule.dnsLabel" (list "launchConfig.builder.secretName" . "secret name for kaniko (the SDK also names the build pod's volume after it)")) -}}
{{- end -}}
{{- with $b.secretKey -}}
{{- $p = append $p (include "wandb-launch.rule.dataKey" (list "launchConfig.builder.secretKey" .)) -}}
{{- end -}}
{{- with $b.kanikoImage -}}
{{- $p = append $p (include "wandb-launch.rule.image" (list "launchConfig.builder.kanikoImage" .)) -}}
{{- end -}}
{{- with $b.platform -}}
{{- $p = append $p (printf "launchConfig.builder.platform is %s, but only the SDK's docker builder reads it, and this chart's builders (kaniko, noop) never do; drop it (kaniko builds for the platform of the node it runs on)" .) -}}
{{- end -}}
{{- if not $kaniko -}}
{{- $unused := list -}}
{{- range $key := list "destination" "buildContextStore" "buildJobName" "kanikoImage" "secretName" "secretKey" "kanikoConfig" -}}
{{- if get $b $key -}}
{{- $unused = append $unused (printf "launchConfig.builder.%s" $key) -}}
{{- end -}}
{{- end -}}
{{- range $key, $set := dict "kaniko.buildCredentials.value" $v.kaniko.buildCredentials.value "kaniko.dockerConfig.json" $v.kaniko.dockerConfig.json "kaniko.dockerConfig.existingSecret" $v.kaniko.dockerConfig.existingSecret "kaniko.pvc.create" $v.kaniko.pvc.create "kaniko.pvc.existingClaim" $v.kaniko.pvc.existingClaim "kaniko.azureStorage.accessKey" $v.kaniko.azureStorage.accessKey -}}
{{- if $set -}}
{{- $unused = append $unused $key -}}
{{- end -}}
{{- end -}}
{{- with $unused -}}
{{- $p = append $p (printf "%s only configure kaniko builds, and launchConfig.builder.type is %s, so the agent ignores them; set launchConfig.builder.type=kaniko or drop them" (join ", " .) $b.type) -}}
{{- end -}}
{{- end -}}
{{- $config := include "wandb-launch.launchConfig" . -}}
{{- if gt (len $config) 1048000 -}}
{{- /* Name the value that makes it so long. */ -}}
{{- $sizes := dict "launchConfig.kanikoConfig" (len (toYaml $b.kanikoConfig)) "launchConfig.extraConfig" (len (toYaml $lc.extraConfig)) "launchConfig.entity" (len $lc.entity) "launchConfig.environment.region" (len $lc.environment.region) -}}
{{- range $i, $q := $lc.queues -}}
{{- $_ := set $sizes (printf "launchConfig.queues[%d]" $i) (len $q) -}}
{{- end -}}
{{- range $key := list "destination" "buildContextStore" "buildJobName" "kanikoImage" "secretName" "secretKey" -}}
{{- $_ := set $sizes (printf "launchConfig.builder.%s" $key) (len (toString (get $b $key))) -}}
{{- end -}}
{{- $longest := "launchConfig" -}}
{{- $most := 0 -}}
{{- range $key, $size := $sizes -}}
{{- if gt $size $most -}}
{{- $longest = $key -}}
{{- $most = $size -}}
{{- end -}}
{{- end -}}
{{- $p = append $p (printf "%s is %d bytes, which makes launch-config.yaml %d bytes; a config map holds 1 MiB at most: shorten it" $longest $most (len $config)) -}}
{{- end -}}
{{- $agentKeys := list "queues" "entity" "max_jobs" "max_schedulers" "secure_mode" "registry" "environment" "builder" "verbosity" "stopped_run_timeout" -}}
{{- range $key, $_ := $lc.extraConfig -}}
{{- if not (has $key $agentKeys) -}}
{{- $p = append $p (printf "launchConfig.extraConfig has key %s, which the agent's config (AgentConfig) refuses; use one of %s" (include "wandb-launch.shown" $key) (join ", " $agentKeys)) -}}
{{- end -}}
{{- end -}}

{{- /* Kaniko */ -}}
{{- $pvc := include "wandb-launch.kanikoPvcEnabled" . -}}
{{- if and $v.kaniko.pvc.create $v.kaniko.pvc.existingClaim -}}
{{- $p = append $p "kaniko.pvc.create and kaniko.pvc.existingClaim are both set; keep one of them" -}}
{{- end -}}
{{- if and $v.kaniko.buildCredentials.value (or $b.secretName $b.secretKey) -}}
{{- $p = append $p "kaniko.buildCredentials.value and launchConfig.builder.secretName are both set; keep one of them" -}}
{{- end -}}
{{- if and $v.kaniko.dockerConfig.json $v.kaniko.dockerConfig.existingSecret -}}
{{- $p = append $p "kaniko.dockerConfig.json and kaniko.dockerConfig.existingSecret are both set; keep one of them" -}}
{{- end -}}
{{- if and $v.git.credentials $v.git.existingSecret -}}
{{- $p = append $p "git.credentials and git.existingSecret are both set; keep one of them" -}}
{{- end -}}
{{- $p = append $p (include "wandb-launch.rule.dataSize" (list "kaniko.buildCredentials.value" $v.kaniko.buildCredentials.value)) -}}
{{- with $v.kaniko.dockerConfig.json -}}
{{- /* The API server parses a kubernetes.io/dockerconfigjson secret as a JSON object; kaniko reads its auths. */ -}}
{{- $docker := fromJson . -}}
{{- if or (hasKey $docker "Error") (not (hasKey $docker "auths")) -}}
{{- $p = append $p "kaniko.dockerConfig.json is not a docker config (a JSON object with \"auths\"); set it to the contents of a ~/.docker/config.json, e.g. {\"auths\": {\"registry.example.com\": {\"auth\": \"...\"}}}" -}}
{{- end -}}
{{- $p = append $p (include "wandb-launch.rule.dataSize" (list "kaniko.dockerConfig.json" .)) -}}
{{- end -}}
{{- with $v.kaniko.dockerConfig.existingSecret -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list "kaniko.dockerConfig.existingSecret" . "secret name")) -}}
{{- end -}}
{{- with $v.kaniko.pvc.existingClaim -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list "kaniko.pvc.existingClaim" . "PVC name")) -}}
{{- end -}}
{{- if $pvc -}}
{{- $p = append $p (include "wandb-launch.rule.absolutePath" (list "kaniko.pvc.mountPath" $v.kaniko.pvc.mountPath)) -}}
{{- end -}}
{{- if $v.kaniko.pvc.create -}}
{{- $p = append $p (include "wandb-launch.rule.quantity" (list "kaniko.pvc.size" $v.kaniko.pvc.size)) -}}
{{- if eq (include "wandb-launch.quantity" $v.kaniko.pvc.size | float64) 0.0 -}}
{{- $p = append $p "kaniko.pvc.size is zero; give the build contexts room, e.g. 10Gi" -}}
{{- end -}}
{{- with $v.kaniko.pvc.storageClassName -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list "kaniko.pvc.storageClassName" . "storage class name")) -}}
{{- end -}}
{{- if and (has "ReadWriteOncePod" $v.kaniko.pvc.accessModes) (gt (len $v.kaniko.pvc.accessModes) 1) -}}
{{- $p = append $p "kaniko.pvc.accessModes combines ReadWriteOncePod with other modes, which the API server refuses; keep ReadWriteOncePod alone or drop it" -}}
{{- end -}}
{{- end -}}
{{- with $v.kaniko.azureStorage.accessKey -}}
{{- $p = append $p (include "wandb-launch.rule.dataSize" (list "kaniko.azureStorage.accessKey" .)) -}}
{{- if and $kaniko (ne $env "azure") -}}
{{- $p = append $p (printf "kaniko.azureStorage.accessKey is set but launchConfig.environment.type is %s; the agent reads the key only for Azure blob build contexts: drop it" (default "empty" $env)) -}}
{{- end -}}
{{- end -}}

{{- $gcs := `^gs://([^/]+)(?:/(.*))?` -}}
{{- $s3 := `^s3://([^/]+)(/(.*))?` -}}
{{- $blob := `^https://([^\.]+)\.blob\.core\.windows\.net/([^/]+)/?(.*)$` -}}
{{- $storeHint := "gs://<bucket>/<prefix>, s3://<bucket>/<prefix> or https://<account>.blob.core.windows.net/<container>/<prefix>" -}}
{{- with $b.buildContextStore -}}
{{- if not (or (regexMatch $gcs .) (regexMatch $s3 .) (regexMatch $blob .)) -}}
{{- $p = append $p (printf "launchConfig.builder.buildContextStore %s is not a GCS, S3 or Azure blob URI; set it to %s" (include "wandb-launch.shown" .) $storeHint) -}}
{{- end -}}
{{- $want := dict "gcp" $gcs "aws" $s3 "azure" $blob -}}
{{- $wantHint := dict "gcp" "gs://<bucket>/<prefix>" "aws" "s3://<bucket>/<prefix>" "azure" "https://<account>.blob.core.windows.net/<container>/<prefix>" -}}
{{- if and $env (not (regexMatch (get $want $env) .)) -}}
{{- $p = append $p (printf "launchConfig.builder.buildContextStore %s does not belong to launchConfig.environment.type %s; set it to %s" (include "wandb-launch.shown" .) $env (get $wantHint $env)) -}}
{{- end -}}
{{- end -}}

{{- if $kaniko -}}
{{- if not (or $b.buildContextStore $pvc) -}}
{{- $p = append $p (printf "launchConfig.builder.buildContextStore is required when builder.type is kaniko; set it to %s (or give kaniko a volume with kaniko.pvc.create or kaniko.pvc.existingClaim)" $storeHint) -}}
{{- end -}}
{{- if and (not $env) (not $pvc) -}}
{{- $p = append $p "launchConfig.environment.type is required when builder.type is kaniko with a bucket build context (the agent uploads the context with the cloud's SDK); set it to gcp, aws or azure" -}}
{{- end -}}
{{- if not $b.destination -}}
{{- $p = append $p "launchConfig.builder.destination is required when builder.type is kaniko; set it to the repository images are pushed to, without a tag" -}}
{{- end -}}
{{- if and (eq $env "azure") (ne (include "wandb-launch.agentNamespace" .) "wandb") -}}
{{- $p = append $p (printf "namespace.name is %q but an azure kaniko agent must run in namespace wandb (the SDK reads secret azure-storage-access-key and writes build configmaps there); set namespace.name=wandb" (include "wandb-launch.agentNamespace" .)) -}}
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
{{- $p = append $p (printf "launchConfig.builder.destination %s has no image name; use <region>-docker.pkg.dev/<project>/<repository>/<image>" (include "wandb-launch.shown" .)) -}}
{{- end -}}
{{- else if regexMatch $acr . -}}
{{- $kind = "azure" -}}
{{- $tag = regexReplaceAll $acr . "${tag}" -}}
{{- else if regexMatch $ecr . -}}
{{- $kind = "aws" -}}
{{- $tag = regexReplaceAll $ecr . "${tag}" -}}
{{- end -}}
{{- if $tag -}}
{{- $p = append $p (printf "launchConfig.builder.destination %s carries a tag or nested path (%s); drop it: the agent tags each image itself, and ACR takes a single path segment" (include "wandb-launch.shown" .) $tag) -}}
{{- end -}}
{{- $hint := dict "gcp" "<region>-docker.pkg.dev/<project>/<repository>/<image> (Artifact Registry)" "aws" "<account>.dkr.ecr.<region>.amazonaws.com/<repository> (ECR)" "azure" "<registry>.azurecr.io/<repository> (ACR)" -}}
{{- if and $env (ne $kind $env) -}}
{{- $p = append $p (printf "launchConfig.builder.destination %s is not a registry of launchConfig.environment.type %s; set it to %s" (include "wandb-launch.shown" .) $env (get $hint $env)) -}}
{{- end -}}
{{- if and (not $kind) (include "wandb-launch.rule.repository" (list "" .)) -}}
{{- $p = append $p (printf "launchConfig.builder.destination %s is not an image repository kaniko can push to; use [registry/]path in lower case, without a tag" (include "wandb-launch.shown" .)) -}}
{{- end -}}
{{- end -}}

{{- /* Git credentials, CA bundle */ -}}
{{- with $v.git.credentials -}}
{{- $p = append $p (include "wandb-launch.rule.dataSize" (list "git.credentials" .)) -}}
{{- range $i, $line := splitList "\n" . -}}
{{- if and (trim $line) (not (regexMatch `^[a-zA-Z][a-zA-Z0-9+.-]*://[^@\s/]+@[^\s/]+(/\S*)?$` $line)) -}}
{{- $p = append $p (printf "git.credentials line %d is not a git-credentials line, so git ignores it; write one scheme://user:token@host per line, e.g. https://user:token@github.com" (add1 $i)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $p = append $p (include "wandb-launch.rule.dataSize" (list "git.sshKnownHosts" $v.git.sshKnownHosts)) -}}
{{- with $v.git.existingSecret -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list "git.existingSecret" . "secret name")) -}}
{{- end -}}
{{- with $v.caBundle.configMapName -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list "caBundle.configMapName" . "config map name")) -}}
{{- $p = append $p (include "wandb-launch.rule.dataKey" (list "caBundle.key" $v.caBundle.key)) -}}
{{- end -}}

{{- /* The agent image and its pod */ -}}
{{- $p = append $p (include "wandb-launch.rule.repository" (list "image.repository" $v.image.repository)) -}}
{{- with $v.image.tag -}}
{{- if not (regexMatch `^[\w][\w.-]{0,127}$` (toString .)) -}}
{{- $p = append $p (printf "image.tag %s is not an image tag; use at most 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'" (include "wandb-launch.shown" .)) -}}
{{- end -}}
{{- end -}}
{{- range $i, $secret := $v.imagePullSecrets -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list (printf "imagePullSecrets[%d].name" $i) $secret.name "secret name")) -}}
{{- end -}}
{{- with $v.priorityClassName -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list "priorityClassName" . "priority class name")) -}}
{{- end -}}
{{- $p = append $p (include "wandb-launch.rule.resources" (list "resources" $v.resources)) -}}
{{- $p = append $p (include "wandb-launch.rule.resources" (list "tests.resources" $v.tests.resources)) -}}
{{- range $name, $size := $v.scratchSizeLimits -}}
{{- $p = append $p (include "wandb-launch.rule.quantity" (list (printf "scratchSizeLimits.%s" $name) $size)) -}}
{{- end -}}
{{- $p = append $p (include "wandb-launch.rule.quantity" (list "tests.scratchSizeLimit" $v.tests.scratchSizeLimit)) -}}

{{- /* Extra env, volumes and mounts: unique, and apart from the chart's own. */ -}}
{{- $chartEnv := list -}}
{{- range include "wandb-launch.agentEnv" . | fromYamlArray -}}
{{- $chartEnv = append $chartEnv .name -}}
{{- end -}}
{{- range $i, $e := $v.extraEnv -}}
{{- $where := printf "extraEnv[%d].name" $i -}}
{{- if not (regexMatch `^[ -<>-~]+$` $e.name) -}}
{{- $p = append $p (printf "%s %s is not an environment variable name; use printable ASCII characters other than '='" $where (include "wandb-launch.shown" $e.name)) -}}
{{- else if has $e.name $chartEnv -}}
{{- $p = append $p (printf "%s %s is set by the chart itself (from its values); set that value instead of overriding the variable" $where $e.name) -}}
{{- end -}}
{{- if and (hasKey $e "value") (hasKey $e "valueFrom") -}}
{{- $p = append $p (printf "extraEnv[%d] sets both value and valueFrom; keep one of them" $i) -}}
{{- end -}}
{{- with $e.valueFrom -}}
{{- if ne (len .) 1 -}}
{{- $p = append $p (printf "extraEnv[%d].valueFrom must name one source (secretKeyRef, configMapKeyRef, fieldRef or resourceFieldRef); it names %d" $i (len .)) -}}
{{- end -}}
{{- range $ref := list "secretKeyRef" "configMapKeyRef" -}}
{{- with get $e.valueFrom $ref -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list (printf "extraEnv[%d].valueFrom.%s.name" $i $ref) .name (ternary "secret name" "config map name" (eq $ref "secretKeyRef")))) -}}
{{- $p = append $p (include "wandb-launch.rule.dataKey" (list (printf "extraEnv[%d].valueFrom.%s.key" $i $ref) .key)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $i, $from := $v.extraEnvFrom -}}
{{- if eq (len (pick $from "configMapRef" "secretRef")) 2 -}}
{{- $p = append $p (printf "extraEnvFrom[%d] sets both configMapRef and secretRef; the API server takes one source per item: split it in two" $i) -}}
{{- else if not (or $from.configMapRef $from.secretRef) -}}
{{- $p = append $p (printf "extraEnvFrom[%d] names no source; set configMapRef.name or secretRef.name" $i) -}}
{{- end -}}
{{- range $ref := list "configMapRef" "secretRef" -}}
{{- with get $from $ref -}}
{{- $p = append $p (include "wandb-launch.rule.subdomain" (list (printf "extraEnvFrom[%d].%s.name" $i $ref) .name (ternary "config map name" "secret name" (eq $ref "configMapRef")))) -}}
{{- end -}}
{{- end -}}
{{- with $from.prefix -}}
{{- if not (regexMatch `^[ -<>-~]+$` .) -}}
{{- $p = append $p (printf "extraEnvFrom[%d].prefix %s is not the start of an environment variable name; use printable ASCII characters other than '='" $i (include "wandb-launch.shown" .)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $chartVolumes := list -}}
{{- range include "wandb-launch.agentVolumes" . | fromYamlArray -}}
{{- $chartVolumes = append $chartVolumes .name -}}
{{- end -}}
{{- $volumes := $chartVolumes -}}
{{- range $i, $volume := $v.extraVolumes -}}
{{- $where := printf "extraVolumes[%d].name" $i -}}
{{- $problem := include "wandb-launch.rule.dnsLabel" (list $where $volume.name "volume name") -}}
{{- if and (not $problem) (has $volume.name $volumes) -}}
{{- $problem = printf "%s %s is taken (by the chart's volumes or an earlier extra volume); pick another name" $where $volume.name -}}
{{- end -}}
{{- $p = append $p $problem -}}
{{- $volumes = append $volumes $volume.name -}}
{{- with $volume.emptyDir -}}
{{- $p = append $p (include "wandb-launch.rule.quantity" (list (printf "extraVolumes[%d].emptyDir.sizeLimit" $i) .sizeLimit)) -}}
{{- end -}}
{{- end -}}
{{- $mountPaths := list -}}
{{- range include "wandb-launch.agentVolumeMounts" . | fromYamlArray -}}
{{- $mountPaths = append $mountPaths (trimSuffix "/" .mountPath) -}}
{{- end -}}
{{- if and $pvc (ne (len $mountPaths) (len (uniq $mountPaths))) -}}
{{- $p = append $p (printf "kaniko.pvc.mountPath %s is where the chart already mounts another volume (%s); mount the build contexts elsewhere, e.g. /kaniko-context" (include "wandb-launch.shown" $v.kaniko.pvc.mountPath) (join ", " (without $mountPaths (trimSuffix "/" $v.kaniko.pvc.mountPath)))) -}}
{{- end -}}
{{- $extraVolumes := list -}}
{{- range $i, $volume := $v.extraVolumes -}}
{{- $extraVolumes = append $extraVolumes (printf "extraVolumes[%d].name %q" $i (toString $volume.name)) -}}
{{- end -}}
{{- range $i, $mount := $v.extraVolumeMounts -}}
{{- if not (has $mount.name $volumes) -}}
{{- $p = append $p (printf "extraVolumeMounts[%d].name %s is no volume of the agent pod (the chart's: %s; extraVolumes: %s); name one of them" $i (include "wandb-launch.shown" $mount.name) (join ", " $chartVolumes) (join ", " (default (list "none") $extraVolumes))) -}}
{{- end -}}
{{- $problem := include "wandb-launch.rule.absolutePath" (list (printf "extraVolumeMounts[%d].mountPath" $i) $mount.mountPath) -}}
{{- if and (not $problem) (has (trimSuffix "/" $mount.mountPath) $mountPaths) -}}
{{- $problem = printf "extraVolumeMounts[%d].mountPath %s is taken by another mount of the agent (the chart's, kaniko.pvc.mountPath or an earlier extra mount); mount elsewhere" $i $mount.mountPath -}}
{{- end -}}
{{- $p = append $p $problem -}}
{{- $mountPaths = append $mountPaths (trimSuffix "/" $mount.mountPath) -}}
{{- range $key := list "subPath" "subPathExpr" -}}
{{- with get $mount $key -}}
{{- if or (hasPrefix "/" .) (has ".." (splitList "/" .)) -}}
{{- $p = append $p (printf "extraVolumeMounts[%d].%s %s is not a relative path inside the volume; drop the leading '/' and any '..'" $i $key (include "wandb-launch.shown" .)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /* Tolerations */ -}}
{{- range $i, $t := $v.tolerations -}}
{{- $where := printf "tolerations[%d]" $i -}}
{{- with $t.key -}}
{{- $p = append $p (include "wandb-launch.rule.qualifiedName" (list (printf "%s.key" $where) .)) -}}
{{- end -}}
{{- if and (not $t.key) (ne (default "Equal" $t.operator) "Exists") -}}
{{- $p = append $p (printf "%s.key is empty, which only operator Exists allows; set the key or operator: Exists" $where) -}}
{{- end -}}
{{- if and (eq (default "Equal" $t.operator) "Exists") $t.value -}}
{{- $p = append $p (printf "%s.value is set with operator Exists, which matches any value; drop the value or use operator: Equal" $where) -}}
{{- end -}}
{{- with $t.value -}}
{{- $p = append $p (include "wandb-launch.rule.labelValue" (list (printf "%s.value" $where) .)) -}}
{{- end -}}
{{- if and (hasKey $t "tolerationSeconds") (ne (default "" $t.effect) "NoExecute") -}}
{{- $p = append $p (printf "%s.tolerationSeconds applies only to effect NoExecute; set effect: NoExecute or drop it" $where) -}}
{{- end -}}
{{- end -}}
{{- toJson (compact $p) -}}
{{- end -}}

{{/* Stops the render with the first problem: one line, the key and the fix. */}}
{{- define "wandb-launch.validate" -}}
{{- with include "wandb-launch.problems" . | fromJsonArray -}}
{{- include "wandb-launch.fail" (first .) -}}
{{- end -}}
{{- end -}}
