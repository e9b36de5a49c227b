{{/* Labels every object of the chart carries; Helm's own only when installed by Helm. */}}
{{- define "eks-access.labels" -}}
app.kubernetes.io/part-of: eks-access
{{- if not .Values.forKustomize }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}
{{- end }}

{{- define "eks-access.image" -}}
{{- $tag := .Values.image.tag | default (ternary "" .Chart.AppVersion .Values.forKustomize) -}}
{{- .Values.image.repository }}{{ if $tag }}:{{ $tag }}{{ end }}
{{- end }}

{{/* IRSA's annotations for a role ARN, plus any given; nothing for Pod Identity (no roleArn). */}}
{{- define "eks-access.serviceAccountAnnotations" -}}
{{- $annotations := deepCopy (.annotations | default dict) -}}
{{- with .roleArn }}
{{- $_ := set $annotations "eks.amazonaws.com/role-arn" . }}
{{- $_ := set $annotations "eks.amazonaws.com/sts-regional-endpoints" "true" }}
{{- end }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The rule groups (a Prometheus rules file's body), from .Values.monitoring.prometheusRule. */}}
{{- define "eks-access.alertRules" -}}
groups:
  - name: eks-access
    rules:
      # Access that outlived its grant: a revocation completed more than two reconcile periods after the
      # expiry (the histogram's bucket at that bound), or one that ran out of retries (the reconciler is then
      # the only thing left that removes it).
      - alert: EksAccessRevocationLate
        expr: |
          sum(increase(eks_access_revocation_lag_seconds_count[15m]))
            - sum(increase(eks_access_revocation_lag_seconds_bucket{le="{{ .revocationDeadlineSeconds }}"}[15m])) > 0
        labels: { severity: critical }
        annotations:
          summary: A grant's access was removed more than {{ .revocationDeadlineSeconds }}s after it expired.
          description: Check the worker's logs and the clusters and AWS it reaches; `eks-access reconcile --dry-run` lists what is still there.
      - alert: EksAccessRevocationFailed
        expr: sum(increase(eks_access_jobs_total{queue="revoke",result="failed"}[15m])) > 0
        labels: { severity: critical }
        annotations:
          summary: A revocation ran out of retries; access stays until the reconciler removes it.
          description: "`eks-access grants list --status revoking`; docs/operations.md, Emergency: revoke everything."
      # A revocation whose proof failed: after the mapping was removed, a fresh login as the person was still
      # let in until the proof's deadline (the role was deleted all the same, which ends sessions' renewal).
      - alert: EksAccessRevocationUnproven
        expr: sum(increase(eks_access_revocations_unproven_total[15m])) > 0
        labels: { severity: critical }
        annotations:
          summary: A revoked grant's login was not refused by its cluster in time; the cluster may still map the person.
          description: "The grant stays revoking and its revocation is retried until the cluster refuses the role. The worker's log (event revocation-unproven) and the grant's audit event revoke-unproven name the role and who still got in; check the cluster's aws-auth or access entries for a mapping of it we did not write. docs/engine.md, The login probe."
      # EKS allows 3000 access entries per cluster (everyone's): at the limit no grant can be made there.
      - alert: EksAccessAccessEntriesNearLimit
        expr: max by (cluster) (eks_access_cluster_access_entries) >= 2700
        for: 15m
        labels: { severity: warning }
        annotations:
          summary: "Cluster {{ "{{" }} $labels.cluster {{ "}}" }} holds {{ "{{" }} $value {{ "}}" }} of EKS's 3000 access entries."
          description: "At 3000 no one new can be mapped and grants there are refused. `eks-access doctor` shows the count; delete entries nobody uses (aws eks list-access-entries)."
      # Forgeries: a RoleBinding labelled as ours whose seal fails, or an approved grant refused at
      # activation (audit event forged-grant: its decision seal does not verify; or out of retries).
      - alert: EksAccessForgedBinding
        expr: max(eks_access_forged_bindings) > 0
        labels: { severity: critical }
        annotations:
          summary: "{{ "{{" }} $value {{ "}}" }} RoleBinding(s) look like eks-access's but fail the seal."
          description: "`eks-access grants forged` lists them; docs/operations.md, Forged RoleBindings."
      # Someone with EKS write rights widened an access entry of ours; the reconciler cut it back.
      - alert: EksAccessAssociationWidened
        expr: sum(increase(eks_access_reconcile_findings_total{kind="association_narrowed"}[15m])) > 0
        labels: { severity: critical }
        annotations:
          summary: An EKS access policy association on an eks-access entry was wider than any grant; the reconciler cut it back.
          description: "The worker's log (reconcile finished) names the person, the policy and what was removed; CloudTrail's AssociateAccessPolicy on the entry says who widened it. docs/operations.md, Alerts."
      - alert: EksAccessActivationRefused
        expr: sum(increase(eks_access_jobs_total{queue="activate",result="failed"}[15m])) > 0
        labels: { severity: critical }
        annotations:
          summary: An approved grant was not activated (a forged grant record, or out of retries).
          description: "`eks-access audit export --since 1h | grep forged-grant`; a forged record means someone wrote Redis."
      # Slack: notifications queue up (the outbox is not draining) or Slack keeps refusing them (jobs wait
      # in delayed for their retry, or end failed).
      - alert: EksAccessOutboxBackingUp
        expr: sum(eks_access_queue_jobs{queue="slack-outbox",state=~"waiting|delayed"}) > {{ .outboxBacklog }}
        for: {{ .for }}
        labels: { severity: warning }
        annotations:
          summary: "{{ "{{" }} $value {{ "}}" }} Slack notifications are waiting to be delivered."
          description: Approvers and requesters are not being told; check the bot token, the worker's logs and Slack's status.
      - alert: EksAccessSlackRefusing
        expr: |
          sum(eks_access_queue_jobs{queue="slack-outbox",state="delayed"}) > 0
            or sum(delta(eks_access_queue_jobs{queue="slack-outbox",state="failed"}[15m])) > 0
        for: {{ .for }}
        labels: { severity: warning }
        annotations:
          summary: Slack keeps refusing eks-access's notifications (retries pending or given up).
          description: "`eks-access doctor` checks the token, the scopes and channel membership."
      # The reconciler: no sweep without errors for two periods, or no sweep ever recorded by a worker.
      - alert: EksAccessReconcilerNotSweeping
        expr: time() - max(eks_access_reconcile_last_success_timestamp_seconds) > {{ mul 2 .reconcileIntervalSeconds }}
        for: 1m
        labels: { severity: critical }
        annotations:
          summary: No reconcile sweep completed without errors for more than two periods.
          description: Expired access is then removed only by the revoke jobs; `eks-access doctor` names the cluster or Redis that fails.
      - alert: EksAccessReconcilerAbsent
        expr: absent(eks_access_reconcile_last_run_timestamp_seconds)
        for: {{ .for }}
        labels: { severity: critical }
        annotations:
          summary: No worker reports a reconcile sweep (no worker scraped, or none ever swept).
          description: Check that the worker runs and that Prometheus scrapes it.
      # Redis lost its data (emptied, restarted without persistence, failed over before replication).
      - alert: EksAccessRedisDataLoss
        expr: sum(increase(eks_access_redis_data_loss_total[15m])) > 0
        labels: { severity: critical }
        annotations:
          summary: Redis lost eks-access's data; pending requests and jobs are gone.
          description: The reconciler still removes expired access from the clusters; docs/operations.md, When Redis loses its data.
      # A key rotation half done: a key that no longer signs still seals live RoleBindings, so removing it
      # from SEAL_KEYS now would make them fail the seal. Informational: it clears by itself as those
      # grants expire (none is sealed with it any more); the hour lets a rollout of a new ring settle.
      - alert: EksAccessSealKeyStillInUse
        expr: |
          max by (key) (eks_access_live_seals) > 0
            and on (key) max by (key) (eks_access_seal_key_info{signing="false"})
        for: 1h
        labels: { severity: warning }
        annotations:
          summary: "Seal key {{ "{{" }} $labels.key {{ "}}" }} no longer signs but still seals {{ "{{" }} $value {{ "}}" }} live RoleBinding(s)."
          description: "Do not remove {{ "{{" }} $labels.key {{ "}}" }} from SEAL_KEYS until this clears: those RoleBindings would fail the seal (reported as forged, no longer counted as ours). They end by their expiry; `eks-access doctor` says when. docs/engine.md, Seals."
{{- end }}
