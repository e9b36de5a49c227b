// An index only: every Slack message lives in messages/ (one module per family); this re-exports them so
// importers keep one path.

export * from './messages/approval.js';
export * from './messages/approval-thread.js';
export * from './messages/audit.js';
export * from './messages/break-glass.js';
export * from './messages/dms.js';
export * from './messages/forms.js';
export * from './messages/home.js';
export * from './messages/kit.js';
export * from './messages/replies.js';
