import type { Logger } from 'pino';
import type { Recent } from './auth/recent.ts';
import type { ApiKeyRow } from './auth/queries/insertApiKey.ts';
import type { SigningRobot } from './auth/queries/getSigningRobot.ts';
import type { Background } from './background.ts';
import type { LeaseTerms } from './batches/leaseTerms.ts';
import type { LeasedBatch } from './batches/queries/leaseItems.ts';
import type { BlobStore } from './blobs/store.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/db.ts';
import type { Keyring } from './keys/keyring.ts';
import type { Metrics } from './ops/metrics.ts';
import type { WorkSignals } from './work/signals.ts';

/** What every capability is built from: resources opened once per process and shared. */
export interface Context {
  db: Db;
  blobs: BlobStore;
  clock: Clock;
  log: Logger;
  config: Config;
  /** Long-poll wake-ups; a waiting poll takes a batch made for it by a request's create. */
  work: WorkSignals<LeaseTerms, LeasedBatch>;
  /** API keys looked up in the last few seconds, by hash. */
  recentKeys: Recent<ApiKeyRow>;
  /** Signing robots looked up in the last few seconds, by id. */
  recentRobots: Recent<SigningRobot>;
  /** Work started by a request and finished after the answer (imports, manifests). */
  background: Background;
  /** This process's Prometheus metrics (docs/metrics.md). */
  metrics: Metrics;
  /** The data keys, unwrapped: secrets, blobs and encrypted record types are sealed with them (docs/encryption.md). */
  keys: Keyring;
  /** The scheme and host robots and signed URLs use. */
  publicUrl(): string;
}
