// An index only: the policy decisions live one module per question (namespace policy, request
// resolution, approval rules, break-glass rules, extension rules, identity checks); this re-exports them
// so importers keep one path.

export * from './approval-rules.js';
export * from './break-glass-rules.js';
export * from './extension-rules.js';
export * from './identity-checks.js';
export * from './namespace-policy.js';
export * from './request-resolution.js';
