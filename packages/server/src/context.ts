import type { Logger } from 'pino';
import type { ApiKeyRow, Recent, SigningRobot } from './auth/index.ts';
import type { Background } from './background.ts';
import type { LeasedBatch, LeaseTerms } from './batches/index.ts';
import type { BlobStore } from './blobs/index.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/index.ts';
import type { Keyring } from './keys/index.ts';
import type { Metrics } from './ops/index.ts';
import type { WorkSignals } from './work/index.ts';

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
