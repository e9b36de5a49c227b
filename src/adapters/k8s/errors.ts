// Kubernetes API errors as AccessError kinds, branching on the HTTP code only (never message text).
import { ApiException } from '@kubernetes/client-node';
import { AccessError } from '../../domain/errors.js';

export const kubeStatus = (error: unknown): number => (error instanceof ApiException ? error.code : 0);

export function fromKubeError(error: unknown, what: string): AccessError {
  if (error instanceof AccessError) return error;
  const status = kubeStatus(error);
  const details = { operation: what, status };
  if (status === 409 || status === 429 || status >= 500 || status === 0) {
    return new AccessError(
      status === 409 ? 'conflict' : 'unavailable',
      `Kubernetes: ${what} (${status || 'network'})`,
      {
        details,
        cause: error,
      },
    );
  }
  if (status === 401 || status === 403) {
    return new AccessError('misconfigured', `eks-access may not ${what} on this cluster (${status})`, {
      hint: 'Map the worker to a Kubernetes identity with the RBAC in manifests/ (eks-access rbac render --for worker).',
      details,
      cause: error,
    });
  }
  return new AccessError('internal', `Kubernetes: ${what} failed (${status})`, { details, cause: error });
}
