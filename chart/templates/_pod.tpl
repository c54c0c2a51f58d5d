{{/*
Pieces of the agent pod that the `helm test` pod shares: same image, env, config mount.
*/}}

{{- define "wandb-launch.agentEnv" -}}
- name: WANDB_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "wandb-launch.agentApiKeySecretName" . | quote }}
      key: {{ include "wandb-launch.agentApiKeySecretKey" . | quote }}
- name: WANDB_BASE_URL
  value: {{ .Values.baseUrl | quote }}
# Runs read their API key from secret wandb-api-key-<this> in their namespace.
- name: WANDB_RELEASE_NAME
  value: {{ .Release.Name | quote }}
# Kaniko build Jobs run as this account, so its workload identity applies to builds.
- name: WANDB_LAUNCH_SERVICE_ACCOUNT_NAME
  value: {{ include "wandb-launch.serviceAccountName" . | quote }}
{{- if include "wandb-launch.kanikoDockerConfigEnabled" . }}
- name: WANDB_LAUNCH_KANIKO_AUTH_SECRET
  value: {{ include "wandb-launch.kanikoDockerConfigSecretName" . | quote }}
{{- end }}
{{- if include "wandb-launch.kanikoPvcEnabled" . }}
- name: WANDB_LAUNCH_KANIKO_PVC_NAME
  value: {{ include "wandb-launch.kanikoPvcName" . | quote }}
- name: WANDB_LAUNCH_KANIKO_PVC_MOUNT_PATH
  value: {{ .Values.kaniko.pvc.mountPath | quote }}
{{- end }}
{{- if include "wandb-launch.gitCredentialsEnabled" . }}
# git reads credentials from the mounted store file (git >= 2.31 reads GIT_CONFIG_*).
- name: GIT_CONFIG_COUNT
  value: "1"
- name: GIT_CONFIG_KEY_0
  value: credential.helper
- name: GIT_CONFIG_VALUE_0
  value: {{ printf "store --file=%s/.git-credentials" (include "wandb-launch.gitCredentialsDir" .) | quote }}
{{- end }}
{{- if include "wandb-launch.sshEnabled" . }}
# git runs ssh with the chart's config (keys and host checking), not ~/.ssh.
- name: GIT_SSH_COMMAND
  value: {{ printf "ssh -F %s/config" (include "wandb-launch.sshDir" .) | quote }}
{{- end }}
{{- if .Values.caBundle.configMapName }}
- name: REQUESTS_CA_BUNDLE
  value: {{ printf "%s/%s" (include "wandb-launch.caBundleDir" .) .Values.caBundle.key | quote }}
- name: SSL_CERT_FILE
  value: {{ printf "%s/%s" (include "wandb-launch.caBundleDir" .) .Values.caBundle.key | quote }}
{{- end }}
{{- end -}}

{{- define "wandb-launch.agentVolumeMounts" -}}
# The root filesystem is read-only: home and /tmp are scratch space.
- name: home
  mountPath: /home/launch_agent
- name: tmp
  mountPath: /tmp
- name: launch-config
  mountPath: {{ include "wandb-launch.configDir" . | quote }}
  readOnly: true
{{- if include "wandb-launch.gitCredentialsEnabled" . }}
- name: git-credentials
  mountPath: {{ include "wandb-launch.gitCredentialsDir" . | quote }}
  readOnly: true
{{- end }}
{{- if include "wandb-launch.sshEnabled" . }}
- name: ssh
  mountPath: {{ include "wandb-launch.sshDir" . | quote }}
  readOnly: true
{{- end }}
{{- if .Values.caBundle.configMapName }}
- name: ca-bundle
  mountPath: {{ include "wandb-launch.caBundleDir" . | quote }}
  readOnly: true
{{- end }}
{{- if include "wandb-launch.kanikoPvcEnabled" . }}
- name: kaniko-context
  mountPath: {{ .Values.kaniko.pvc.mountPath | quote }}
{{- end }}
{{- end -}}

{{- define "wandb-launch.agentVolumes" -}}
- name: home
  emptyDir:
    sizeLimit: {{ .Values.scratchSizeLimits.home | quote }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.scratchSizeLimits.tmp | quote }}
- name: launch-config
  configMap:
    name: {{ include "wandb-launch.launchConfigMapName" . | quote }}
{{- if include "wandb-launch.gitCredentialsEnabled" . }}
- name: git-credentials
  secret:
    secretName: {{ include "wandb-launch.gitCredentialsSecretName" . | quote }}
    items:
      - key: .git-credentials
        path: .git-credentials
{{- end }}
{{- if include "wandb-launch.sshEnabled" . }}
# The ssh config and every key in one read-only directory; 0440 (owner root, group 0,
# the agent's group): ssh accepts a key readable by others when it belongs to another user.
- name: ssh
  projected:
    defaultMode: 288
    sources:
      - configMap:
          name: {{ include "wandb-launch.sshConfigMapName" . | quote }}
      {{- range $i, $key := .Values.git.sshAuthSecrets }}
      - secret:
          name: {{ $key.name | quote }}
          items:
            - key: ssh-privatekey
              path: {{ printf "id_%d" $i | quote }}
      {{- end }}
{{- end }}
{{- if .Values.caBundle.configMapName }}
- name: ca-bundle
  configMap:
    name: {{ .Values.caBundle.configMapName | quote }}
    items:
      - key: {{ .Values.caBundle.key | quote }}
        path: {{ .Values.caBundle.key | quote }}
{{- end }}
{{- if include "wandb-launch.kanikoPvcEnabled" . }}
- name: kaniko-context
  persistentVolumeClaim:
    claimName: {{ include "wandb-launch.kanikoPvcName" . | quote }}
{{- end }}
{{- end -}}

{{/* Changes whenever a secret the chart writes (or the name of one it reads) changes, so the pod restarts. */}}
{{- define "wandb-launch.secretChecksum" -}}
{{- $v := .Values -}}
{{- list $v.apiKey.value $v.apiKey.existingSecret $v.apiKey.existingSecretKey $v.kaniko.buildCredentials.value $v.kaniko.dockerConfig.json $v.kaniko.dockerConfig.existingSecret $v.kaniko.azureStorage.accessKey $v.git.credentials $v.git.existingSecret | toJson | sha256sum -}}
{{- end -}}

{{/* Checkov checks the agent does not meet by design, each with its reason. */}}
{{- define "wandb-launch.agentCheckovSkips" -}}
checkov.io/skip1: CKV_K8S_8=the agent has no HTTP endpoint or health command to probe; a crash restarts the container
checkov.io/skip2: CKV_K8S_9=the agent serves no traffic, so there is nothing to be ready for
checkov.io/skip3: CKV_K8S_40=the image's user is uid 1000 (launch_agent); another uid has no home directory in the image
checkov.io/skip4: CKV_K8S_35=the agent reads WANDB_API_KEY from its environment only, and passes it on to runs the same way
checkov.io/skip5: CKV_K8S_38=the agent calls the Kubernetes API with its service account token to launch and watch runs
{{- include "wandb-launch.imageCheckovSkips" . }}
{{- end -}}

{{/* Only while the image is pinned by tag, not digest. */}}
{{- define "wandb-launch.imageCheckovSkips" -}}
{{- if not .Values.image.digest }}
checkov.io/skip6: CKV_K8S_43=the tag is the SDK release the chart is tested with; set image.digest to pin your mirror's digest
{{- if ne .Values.image.pullPolicy "Always" }}
checkov.io/skip7: CKV_K8S_15=a released agent tag is never re-pushed, so IfNotPresent pulls the same image; set image.pullPolicy to Always on a mutable mirror
{{- end }}
{{- end }}
{{- end -}}

{{- define "wandb-launch.testCheckovSkips" -}}
checkov.io/skip1: CKV_K8S_8=a one-shot test pod that exits when the check is done has nothing to probe
checkov.io/skip2: CKV_K8S_9=a one-shot test pod serves no traffic
checkov.io/skip3: CKV_K8S_40=runs the agent image, whose user is uid 1000 (launch_agent)
checkov.io/skip4: CKV_K8S_38=the check asks the API server what the agent's service account token may do
{{- include "wandb-launch.imageCheckovSkips" . }}
{{- end -}}
