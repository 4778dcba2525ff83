/**
 * Each maintenance service's interval: its setting and default, in seconds or ISO 8601
 * (docs/operations.md). Read and checked at start (config.ts).
 */
export const maintenanceIntervals = {
  leaseExpiry: { env: 'REFINERY_LEASE_EXPIRY_INTERVAL', fallback: '1' },
  orphanedRequests: { env: 'REFINERY_ORPHANED_REQUESTS_INTERVAL', fallback: '1' },
  deadlines: { env: 'REFINERY_DEADLINES_INTERVAL', fallback: '1' },
  importResumption: { env: 'REFINERY_IMPORT_RESUMPTION_INTERVAL', fallback: '1' },
  backlogs: { env: 'REFINERY_BACKLOGS_INTERVAL', fallback: '1' },
  manifests: { env: 'REFINERY_MANIFESTS_INTERVAL', fallback: '1' },
  nonceCleanup: { env: 'REFINERY_NONCE_CLEANUP_INTERVAL', fallback: '60' },
  vacuum: { env: 'REFINERY_VACUUM_INTERVAL', fallback: '120' },
  retentionCleanup: { env: 'REFINERY_RETENTION_CLEANUP_INTERVAL', fallback: '300' },
  webhookSender: { env: 'REFINERY_WEBHOOK_SENDER_INTERVAL', fallback: '1' },
  recordSealer: { env: 'REFINERY_RECORD_SEALER_INTERVAL', fallback: '2' },
  pushDispatch: { env: 'REFINERY_PUSH_DISPATCH_INTERVAL', fallback: '1' },
} as const;

export type MaintenanceService = keyof typeof maintenanceIntervals;
export type MaintenanceIntervals = Record<MaintenanceService, number>;
