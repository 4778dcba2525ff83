import type { AddressInfo } from 'node:net';
import { after, before, describe } from 'node:test';
import pino, { type Logger } from 'pino';
import { isApiErrorCode, isItemErrorCode, signRequest, type ProvisionedRobot, type RobotIn } from '@refinery/protocol';
import type { BlobStore } from '../../src/blobs/store.ts';
import { manualClock, systemClock, type Clock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import type { Queryable } from '../../src/db/db.ts';
import { createRefinery, type Refinery } from '../../src/refinery.ts';
import { availableBackends, tempDir, type Backend, type BackendName } from './backends.ts';

export interface Harness {
  backend: BackendName;
  refinery: Refinery;
  /** The base URL when listening (real HTTP over loopback). */
  url: string;
  adminKey: string;
  clock: Clock;
  databaseUrl: string | null;
  dataDir: string;
  /** JSON over real HTTP with the admin key (or `key`). */
  api(method: string, path: string, options?: { body?: unknown; key?: string | null; headers?: Record<string, string>; raw?: string }): Promise<{ status: number; body: any; headers: Headers }>;
  /** A signed robot call over real HTTP, `created` from the harness clock unless given (unix seconds). */
  robotCall(robot: { id: string; secret: string }, method: string, path: string, body?: unknown, options?: { headers?: Record<string, string>; created?: number }): Promise<{ status: number; body: any }>;
  createRobot(input?: Partial<RobotIn>): Promise<ProvisionedRobot>;
  importRecords(records: unknown[]): Promise<string[]>;
}

export interface HarnessOptions {
  /** Use a clock the test moves (default: the system clock). */
  manualClock?: boolean;
  /** The base URL robots and signed URLs are given (REFINERY_PUBLIC_URL), e.g. a proxy's. */
  publicUrl?: string;
  /** Settings from the environment (`REFINERY_BODY_TIMEOUT`, …), as the process would read them. */
  env?: Record<string, string>;
  /** Where the logs go (default: nowhere, or `TEST_LOG` as the level on stdout). */
  log?: Logger;
  /** A blob store instead of files under the data directory (the test closes it). */
  blobs?: BlobStore;
}

/** The master key of every Refinery the tests start on one database (docs/encryption.md), unless `env` sets another. */
export const testMasterKey = Buffer.alloc(32, 3).toString('base64');

/** A fresh database of `backend`, a temporary data directory and a Refinery listening on loopback; `close` undoes all. */
export async function openHarness(backend: Backend, options: HarnessOptions = {}): Promise<{ harness: Harness; close(): Promise<void> }> {
  const opened = await backend.open();
  const dir = await tempDir();
  const clock = options.manualClock ? manualClock() : systemClock;
  const adminKey = 'test-admin-key-0123456789';
  const config = loadConfig({ port: '0', host: '127.0.0.1', dataDir: dir.path, adminKey, logLevel: 'silent', publicUrl: options.publicUrl }, { REFINERY_MASTER_KEY: testMasterKey, ...options.env });
  const log = options.log ?? pino({ level: process.env.TEST_LOG ?? 'silent' });
  const refinery = await createRefinery({ config, db: opened.db, blobs: options.blobs, clock, log, sweep: false });
  await refinery.listen();
  // Its own address, whatever robots are told (publicUrl).
  const url = `http://127.0.0.1:${(refinery.app.server.address() as AddressInfo).port}`;
  return {
    harness: makeHarness({ backend: backend.name, refinery, url, adminKey, clock, databaseUrl: opened.databaseUrl, dataDir: dir.path }),
    async close() {
      for (const step of [() => refinery.close(), opened.drop, dir.remove]) await step();
    },
  };
}

/**
 * Another Refinery process on the same database, with its own cache of keys, its own clock and
 * data directory, and `adminKey` as its REFINERY_ADMIN_KEY (none: it makes or keeps its own); `env` as its settings.
 */
export async function openOtherProcess(h: Harness, options: { adminKey: string | null; clock?: Clock; dir?: { path: string; remove(): Promise<void> }; env?: Record<string, string> }) {
  const dir = options.dir ?? (await tempDir());
  const config = loadConfig({ port: '0', host: '127.0.0.1', dataDir: dir.path, logLevel: 'silent', ...(options.adminKey ? { adminKey: options.adminKey } : {}) }, { REFINERY_MASTER_KEY: testMasterKey, ...options.env });
  const clock = options.clock ?? systemClock;
  const refinery = await createRefinery({ config, db: h.refinery.ctx.db, clock, log: pino({ level: 'silent' }), sweep: false }).catch(async (err) => {
    await dir.remove();
    throw err;
  });
  const url = await refinery.listen();
  const adminKey = options.adminKey ?? refinery.newAdminKey!;
  return {
    other: makeHarness({ backend: h.backend, refinery, url, adminKey, clock, databaseUrl: h.databaseUrl, dataDir: dir.path }),
    dir,
    /** Stops it; its data directory stays with `keepDir`. */
    async close(keepDir = false) {
      await refinery.close();
      if (!keepDir) await dir.remove();
    },
  };
}

/**
 * Runs `suite` once per backend (PGlite, and PostgreSQL when it answers; always in CI), each with
 * a fresh database, a temporary data directory and a Refinery listening on a loopback port.
 */
export function describeEachBackend(title: string, suite: (h: () => Harness) => void, options: HarnessOptions = {}): void {
  describe(title, async () => {
    for (const backend of await availableBackends()) {
      describe(backend.name, () => {
        let opened: Awaited<ReturnType<typeof openHarness>>;
        before(async () => {
          opened = await openHarness(backend, options);
        });
        after(async () => {
          await opened?.close();
        });
        suite(() => opened.harness);
      });
    }
  });
}

let robotCounter = 0;

/**
 * Every error code an answer carries, and every item error code it shows, is one declared in
 * @refinery/protocol (docs/errors.md): any test that meets another fails here.
 */
export function checkDeclaredCodes(method: string, path: string, body: unknown): void {
  const b = body as { error?: { code?: unknown }; data?: unknown } | null;
  const code = b?.error?.code;
  if (typeof code === 'string' && !isApiErrorCode(code)) throw new Error(`${method} ${path} answered with error code "${code}", which @refinery/protocol does not declare`);
  if (!/\/items(\?|$)/.test(path) || !Array.isArray(b?.data)) return;
  for (const row of b.data as Array<{ error?: { code?: unknown } | null }>) {
    const itemCode = row?.error?.code;
    if (typeof itemCode === 'string' && !isItemErrorCode(itemCode)) throw new Error(`${method} ${path} shows an item error code "${itemCode}", which @refinery/protocol does not declare`);
  }
}

export function makeHarness(base: Omit<Harness, 'api' | 'robotCall' | 'createRobot' | 'importRecords'>): Harness {
  const h: Harness = {
    ...base,
    async api(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const key = options.key === undefined ? base.adminKey : options.key;
      if (key) headers.authorization = `Bearer ${key}`;
      let body: string | undefined = options.raw;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(base.url + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON
      }
      checkDeclaredCodes(method, path, parsed);
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async robotCall(robot, method, path, body, options = {}) {
      const url = base.url + path;
      const text = body === undefined ? '' : JSON.stringify(body);
      const headers: Record<string, string> = { ...signRequest({ method, url, body: text, keyId: robot.id, secret: robot.secret, created: options.created ?? Math.floor(base.clock.now().getTime() / 1000) }), ...options.headers };
      if (text) headers['content-type'] = 'application/json';
      const res = await fetch(url, { method, headers, body: text || undefined });
      const raw = await res.text();
      const parsed = raw ? JSON.parse(raw) : null;
      checkDeclaredCodes(method, path, parsed);
      return { status: res.status, body: parsed };
    },
    async createRobot(input = {}) {
      const res = await h.api('POST', '/v1/robots', {
        body: { name: `robot-${++robotCounter}-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], ...input },
      });
      if (res.status !== 201) throw new Error(`creating a robot failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async importRecords(records) {
      const res = await h.api('POST', '/v1/records', { body: records });
      if (res.status !== 200) throw new Error(`importing records failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.ids;
    },
  };
  return h;
}

/** n reference records with distinct DOIs. */
export function references(n: number, prefix = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`): Array<{ type: string; identifiers: Array<{ type: string; value: string }>; content: unknown }> {
  return Array.from({ length: n }, (_, i) => ({ type: 'reference', identifiers: [{ type: 'doi', value: `10.1000/${prefix}/${i}` }], content: { title: `Reference ${i}` } }));
}

/** What `promise` gives within `ms`, or null when it is still waiting then. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs `work` and counts every statement Refinery's database sees meanwhile, those inside transactions too. */
export async function countingStatements<T>(h: Harness, work: () => Promise<T>): Promise<{ statements: number; result: T }> {
  const db = h.refinery.ctx.db;
  let statements = 0;
  const counting = (q: Queryable): Queryable => ({ ...q, query: (sql, params) => (statements++, q.query(sql, params)) });
  const { query, transaction } = db;
  db.query = (sql, params) => (statements++, query.call(db, sql, params)) as never;
  db.transaction = ((fn: (tx: Queryable) => Promise<unknown>) => transaction.call(db, (tx) => fn(counting(tx)))) as typeof db.transaction;
  try {
    const result = await work();
    return { statements, result };
  } finally {
    db.query = query;
    db.transaction = transaction;
  }
}
