// What the running test platform looks like to a test: addresses, credentials and file paths of the real
// servers started by test/platform/global-setup.ts. Plain data, so vitest can hand it to test workers.

export interface PlatformInfo {
  /** redis://127.0.0.1:PORT of a redis-server owned by this run (no persistence, noeviction). */
  redisUrl: string;
  kube: {
    /** https://127.0.0.1:PORT of a real kube-apiserver (RBAC authorization, client-certificate users). */
    server: string;
    /** CA that signs the serving certificate and every client certificate. */
    caFile: string;
    /** Its private key, so tests can mint identities (see kubeconfigFor in context.ts). */
    caKeyFile: string;
    /** Kubeconfig of `eks-access-test-admin` in group `system:masters`, for the tests' own set-up. */
    adminKubeconfig: string;
    /** kubectl of the same version, e.g. for `kubectl auth can-i --as`. */
    kubectl: string;
    /**
     * The apiserver's audit log (JSON lines, metadata level, the platform's admin left out): who made
     * which request, for tests that show what identity something used.
     */
    auditLog: string;
  };
  aws: {
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    /** The account both emulators pretend to be. */
    accountId: string;
    /** moto serves IAM and STS. */
    iamEndpoint: string;
    stsEndpoint: string;
    /** ministack serves EKS (clusters and access entries, which moto lacks). */
    eksEndpoint: string;
    /** moto serves S3 too: the durable archive's bucket lives there. */
    s3Endpoint: string;
    /** Made at platform start with Object Lock on and a default COMPLIANCE retention of one day. */
    archiveBucket: string;
  };
  /**
   * Logging in the way a person does on EKS: kube-apiserver sends bearer tokens to a real
   * aws-iam-authenticator (aws-auth through EKSConfigMap; access entries through a DynamicFile kept in step
   * with ministack), and programs that only know AWS's public host names reach the emulators through the
   * AWS gateway (see aws-gateway.ts): set HTTPS_PROXY=proxyUrl, NO_PROXY=127.0.0.1,localhost and
   * AWS_CA_BUNDLE=caBundle (SSL_CERT_FILE for Go).
   */
  login: {
    /** The EKS cluster (in ministack) whose tokens the authenticator accepts (`x-k8s-aws-id`); its DescribeCluster answers with this kube-apiserver's endpoint and CA. */
    clusterName: string;
    /** Where that cluster lives (the emulators' region). */
    region: string;
    /** http://127.0.0.1:PORT: a CONNECT proxy to the gateway for *.amazonaws.com:443. */
    proxyUrl: string;
    /** PEM of the CA that signs the gateway's *.amazonaws.com certificate. */
    caBundle: string;
    /** kube-apiserver's --authentication-token-webhook-cache-ttl (production default: 120). */
    webhookCacheTtlSeconds: number;
    /**
     * http://127.0.0.1:PORT: STS as the gateway serves it (IAM's propagation and trust policies enforced),
     * for a worker whose login probe must meet the same IAM as the person.
     */
    stsEndpoint: string;
    /**
     * How late AWS changes reach their readers: access entries the authenticator, roles and trust policies
     * AssumeRole through the gateway, aws-auth the authenticator's watch (undefined: at once).
     */
    propagation?: { seed: number; minMs: number; maxMs: number } | undefined;
    /** The authenticator's log (why a login was refused). */
    authenticatorLog: string;
  };
  /** Temporary directory of this run: certificates, kubeconfigs, server logs (logs/*.log). */
  runDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    platform: PlatformInfo | undefined;
    /** Why the platform did not start; every test that needs it fails with this message. */
    platformError: string | undefined;
  }
}
