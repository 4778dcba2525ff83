import { resolve } from 'node:path';
import { parseDuration } from '@refinery/protocol';
import { maintenanceIntervals, type MaintenanceIntervals, type MaintenanceService } from './maintenance/index.ts';

/** Everything a Refinery process can be told, from flags and the environment. */
export interface Config {
  /** TCP port; default 8080 (`PORT`). */
  port: number;
  host: string;
  /** Embedded mode keeps PGlite and blobs here; default ./refinery-data (`REFINERY_DATA_DIR`). */
  dataDir: string;
  /** PostgreSQL 15+ (`DATABASE_URL`); unset means embedded PGlite in `dataDir`. */
  databaseUrl: string | null;
  /** `s3://bucket/prefix` (`REFINERY_BLOB_URL`); unset means the file system under `dataDir`. */
  blobUrl: string | null;
  /** An S3-compatible server instead of AWS (`AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, as the AWS SDK reads them); its buckets are addressed by path. */
  s3Endpoint: string | null;
  /** The scheme and host robots see (`REFINERY_PUBLIC_URL`); default http://localhost:<port>. */
  publicUrl: string | null;
  /** An admin key to accept (`REFINERY_ADMIN_KEY`). */
  adminKey: string | null;
  logLevel: string;
  /** Time a push robot has to begin its answer (`REFINERY_PUSH_TIMEOUT`, seconds or ISO 8601); default 30 s. */
  pushTimeoutMs: number;
  /** A request of more record ids than this is written in slices of this many (`REFINERY_CREATE_SLICE`, docs/large-requests.md); default 10,000. */
  createSlice: number;
  /** A request body that sends nothing for this long is answered 408 and its connection closed (`REFINERY_BODY_TIMEOUT`); default 30 s. */
  bodyTimeoutMs: number;
  /** A SIGTERM stops the process within this long, drained or not (`REFINERY_SHUTDOWN_TIMEOUT`); default 10 s. */
  shutdownTimeoutMs: number;
  /** How long a batch's files are kept after it and its requests ended (`REFINERY_BATCH_FILES_RETENTION`, docs/retention.md); default 7 days. */
  batchFilesRetentionMs: number;
  /**
   * How long a results import is the process's that runs it (`REFINERY_IMPORT_LEASE`, seconds or
   * ISO 8601); the process renews it every quarter of that, and once it lapses (the process died)
   * another resumes the import. Default 20 s.
   */
  importLeaseMs: number;
  /** A record query of more clauses than this is refused (`REFINERY_QUERY_MAX_CLAUSES`, docs/queries.md); default 100. */
  queryMaxClauses: number;
  /** `count_only` counts this many matching records at most, then says the count is a lower bound (`REFINERY_SEARCH_COUNT_CAP`); default 10,000. */
  searchCountCap: number;
  /** A record search (a page or a count) running longer than this is stopped and refused (`REFINERY_SEARCH_TIMEOUT`, docs/queries.md); default 30 s. */
  searchTimeoutMs: number;
  /** An automation gathers the records its triggers match for this long, from the first, into one request (`REFINERY_AUTOMATION_WINDOW`, docs/automations.md); default 5 s. */
  automationWindowMs: number;
  /** …or until this many are gathered, whichever comes first (`REFINERY_AUTOMATION_WINDOW_ITEMS`); default 10,000. */
  automationWindowItems: number;
  /** A chain of automated requests longer than this is cut off, with the reason on the automation (`REFINERY_AUTOMATION_MAX_DEPTH`); default 5. */
  automationMaxDepth: number;
  /** The master key that wraps the data keys (`REFINERY_MASTER_KEY`, 32 bytes in base64 or hex; docs/encryption.md). */
  masterKey: string | null;
  /** A file holding the master key (`REFINERY_MASTER_KEY_FILE`). Neither set: embedded mode keeps one in `dataDir`; PostgreSQL refuses to start. */
  masterKeyFile: string | null;
  /** Each maintenance service's interval (`REFINERY_<SERVICE>_INTERVAL`, maintenance/intervals.ts; docs/operations.md). */
  maintenanceIntervalsMs: MaintenanceIntervals;
}

export class ConfigError extends Error {}

/** A duration setting (seconds or ISO 8601) between `min` and `max` seconds. */
function durationSetting(env: NodeJS.ProcessEnv, name: string, fallback: string, min: number, max: number, range: string): number {
  const text = env[name] ?? fallback;
  const ms = parseDuration(text);
  if (ms === null || ms < min * 1000 || ms > max * 1000) throw new ConfigError(`${name} must be a duration from ${range} (seconds or ISO 8601), not "${text}"`);
  return ms;
}

function wholeNumberSetting(env: NodeJS.ProcessEnv, name: string, fallback: string, min: number, max: number): number {
  const text = env[name] ?? fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not "${text}"`);
  return n;
}

export function loadConfig(flags: Partial<Record<'port' | 'host' | 'dataDir' | 'databaseUrl' | 'blobUrl' | 'publicUrl' | 'adminKey' | 'logLevel', string>> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const portText = flags.port ?? env.PORT ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new ConfigError(`port must be a number from 0 to 65535, not "${portText}"`);
  const databaseUrl = flags.databaseUrl ?? env.DATABASE_URL ?? null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('DATABASE_URL must start with postgres:// or postgresql://');
  const blobUrl = flags.blobUrl ?? env.REFINERY_BLOB_URL ?? null;
  if (blobUrl && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/|$)/.test(blobUrl)) throw new ConfigError(`REFINERY_BLOB_URL must look like s3://bucket/prefix, with a bucket name of 3 to 63 lower-case letters, digits, dots and hyphens, not "${blobUrl}"`);
  const endpointVariable = env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : 'AWS_ENDPOINT_URL';
  const s3Endpoint = blobUrl ? (env[endpointVariable] ?? null) : null;
  if (s3Endpoint && !isHttpUrl(s3Endpoint)) throw new ConfigError(`${endpointVariable} must be an http(s) URL, not "${s3Endpoint}"`);
  const publicUrl = flags.publicUrl ?? env.REFINERY_PUBLIC_URL ?? null;
  if (publicUrl && !isHttpUrl(publicUrl)) throw new ConfigError(`REFINERY_PUBLIC_URL must be an http(s) URL, not "${publicUrl}"`);
  const adminKey = flags.adminKey ?? env.REFINERY_ADMIN_KEY ?? null;
  if (adminKey !== null && adminKey.length < 16) throw new ConfigError('REFINERY_ADMIN_KEY must be at least 16 characters');
  const logLevel = flags.logLevel ?? env.LOG_LEVEL ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) throw new ConfigError(`LOG_LEVEL "${logLevel}" is not a pino level`);
  const pushTimeoutMs = durationSetting(env, 'REFINERY_PUSH_TIMEOUT', '30', 1, 3600, '1 second to 1 hour');
  const bodyTimeoutMs = durationSetting(env, 'REFINERY_BODY_TIMEOUT', '30', 1, 3600, '1 second to 1 hour');
  const shutdownTimeoutMs = durationSetting(env, 'REFINERY_SHUTDOWN_TIMEOUT', '10', 1, 600, '1 second to 10 minutes');
  const createSliceText = env.REFINERY_CREATE_SLICE ?? '10000';
  const createSlice = Number(createSliceText);
  if (!/^\d+$/.test(createSliceText) || createSlice < 100 || createSlice > 1_000_000) throw new ConfigError(`REFINERY_CREATE_SLICE must be a whole number from 100 to 1000000, not "${createSliceText}"`);
  const batchFilesRetentionText = env.REFINERY_BATCH_FILES_RETENTION ?? 'P7D';
  const batchFilesRetentionMs = parseDuration(batchFilesRetentionText);
  if (batchFilesRetentionMs === null) throw new ConfigError(`REFINERY_BATCH_FILES_RETENTION must be a duration (seconds or ISO 8601, such as P30D), not "${batchFilesRetentionText}"`);
  const importLeaseText = env.REFINERY_IMPORT_LEASE ?? '20';
  const importLeaseMs = parseDuration(importLeaseText);
  if (importLeaseMs === null || importLeaseMs < 1000 || importLeaseMs > 3600_000) throw new ConfigError(`REFINERY_IMPORT_LEASE must be a duration from 1 second to 1 hour (seconds or ISO 8601), not "${importLeaseText}"`);
  const queryMaxClauses = wholeNumberSetting(env, 'REFINERY_QUERY_MAX_CLAUSES', '100', 1, 10_000);
  const searchCountCap = wholeNumberSetting(env, 'REFINERY_SEARCH_COUNT_CAP', '10000', 1, 100_000_000);
  const searchTimeoutMs = durationSetting(env, 'REFINERY_SEARCH_TIMEOUT', '30', 0.001, 3600, '1 millisecond to 1 hour');
  const maintenanceIntervalsMs = Object.fromEntries(
    Object.entries(maintenanceIntervals).map(([service, { env: name, fallback }]) => [service, durationSetting(env, name, fallback, 0.01, 86_400, '10 milliseconds to 1 day')]),
  ) as Record<MaintenanceService, number>;
  const automationWindowMs = durationSetting(env, 'REFINERY_AUTOMATION_WINDOW', '5', 0.001, 3600, '1 millisecond to 1 hour');
  const automationWindowItems = wholeNumberSetting(env, 'REFINERY_AUTOMATION_WINDOW_ITEMS', '10000', 1, 1_000_000);
  const automationMaxDepth = wholeNumberSetting(env, 'REFINERY_AUTOMATION_MAX_DEPTH', '5', 1, 100);
  return {
    port,
    host: flags.host ?? env.HOST ?? '0.0.0.0',
    dataDir: resolve(flags.dataDir ?? env.REFINERY_DATA_DIR ?? './refinery-data'),
    databaseUrl,
    blobUrl,
    s3Endpoint: s3Endpoint?.replace(/\/+$/, '') ?? null,
    publicUrl: publicUrl?.replace(/\/+$/, '') ?? null,
    adminKey,
    logLevel,
    pushTimeoutMs,
    createSlice,
    bodyTimeoutMs,
    shutdownTimeoutMs,
    batchFilesRetentionMs,
    importLeaseMs,
    queryMaxClauses,
    searchCountCap,
    searchTimeoutMs,
    automationWindowMs,
    automationWindowItems,
    automationMaxDepth,
    masterKey: env.REFINERY_MASTER_KEY || null,
    masterKeyFile: env.REFINERY_MASTER_KEY_FILE ? resolve(env.REFINERY_MASTER_KEY_FILE) : null,
    maintenanceIntervalsMs,
  };
}

function isHttpUrl(text: string): boolean {
  try {
    return /^https?:$/.test(new URL(text).protocol);
  } catch {
    return false;
  }
}
