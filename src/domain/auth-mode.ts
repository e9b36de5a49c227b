// An EKS cluster's authentication mode (DescribeCluster accessConfig.authenticationMode) decides which
// identity mappings EKS honours: CONFIG_MAP reads only aws-auth, API only access entries,
// API_AND_CONFIG_MAP both. A mapping the cluster does not read would report "active" and never log
// anyone in, so the engine refuses it before writing anything, and `doctor` names the fix.

export const AUTHENTICATION_MODES = ['CONFIG_MAP', 'API_AND_CONFIG_MAP', 'API'] as const;
export type AuthenticationMode = (typeof AUTHENTICATION_MODES)[number];

/** The policy's choice; `auto` takes access entries where the cluster reads them, else aws-auth. */
export type IdentityMappingChoice = 'aws-auth' | 'access-entries' | 'none' | 'auto';
export type IdentityMappingMode = Exclude<IdentityMappingChoice, 'auto'>;

/**
 * The mode as DescribeCluster reports it. An absent mode is the EKS API's default for clusters created
 * without an access config, CONFIG_MAP (clusters from before access entries read only aws-auth).
 * Anything else is unknown and undefined.
 */
export function authenticationModeOf(reported: string | undefined): AuthenticationMode | undefined {
  if (reported === undefined || reported === '') return 'CONFIG_MAP';
  return (AUTHENTICATION_MODES as readonly string[]).includes(reported)
    ? (reported as AuthenticationMode)
    : undefined;
}

export function readsMapping(mode: AuthenticationMode, mapping: 'aws-auth' | 'access-entries'): boolean {
  return mapping === 'aws-auth' ? mode !== 'API' : mode !== 'CONFIG_MAP';
}

/** What `auto` (or an explicit choice) becomes on a cluster in `mode`. */
export function resolveMapping(choice: IdentityMappingChoice, mode: AuthenticationMode): IdentityMappingMode {
  if (choice !== 'auto') return choice;
  return readsMapping(mode, 'access-entries') ? 'access-entries' : 'aws-auth';
}

/**
 * Why `mapping` cannot work on a cluster in `mode`, with the fix; undefined when it can (or when there
 * is nothing to map). `eksName` goes into the command of the fix.
 */
export function mappingMismatch(
  mapping: IdentityMappingMode,
  mode: AuthenticationMode | undefined,
  eksName: string,
): { problem: string; fix: string } | undefined {
  if (mapping === 'none') return undefined;
  if (mode === undefined) {
    return {
      problem: `EKS cluster ${eksName} reports an authentication mode eks-access does not know`,
      fix: 'Check the cluster with aws eks describe-cluster; eks-access knows CONFIG_MAP, API_AND_CONFIG_MAP and API.',
    };
  }
  if (readsMapping(mode, mapping)) return undefined;
  const reads = mode === 'API' ? 'only access entries' : 'only the aws-auth ConfigMap';
  return {
    problem: `EKS cluster ${eksName} has authentication mode ${mode}, which reads ${reads}: a ${mapping} mapping would never log anyone in`,
    fix:
      mode === 'API'
        ? `Set identityMapping: access-entries (or auto) for this cluster; a cluster in API mode cannot go back to reading aws-auth.`
        : `Switch the cluster to read access entries too: aws eks update-cluster-config --name ${eksName} --access-config authenticationMode=API_AND_CONFIG_MAP (or set identityMapping: aws-auth).`,
  };
}
