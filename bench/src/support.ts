/** What every measurement shares: fresh databases, a Refinery in this process or in its own, toy robot processes, timing. */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import { RefineryClient } from '@refinery/sdk';
import { procCpuSeconds } from './cpuTime.ts';
import { profiledDb, type ProfiledDb } from './profile.ts';
import { createRefinery, loadConfig, migrate, openPglite, openPostgres, type Db, type Refinery } from '@refinery/server';

export const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const adminKey = 'bench-admin-key-0123456789';
export type Backend = 'postgres' | 'pglite';

/**
 * A new PostgreSQL database on the benchmark's server, empty or with Refinery's schema
 * (`migrated`: what the floors and the peers write into); `drop` removes it.
 */
export async function freshPostgresDatabase(prefix = 'refinery_bench', options: { migrated?: boolean } = {}): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  if (options.migrated) {
    const db = await openPostgres({ connectionString: url.toString(), log: pino({ level: 'silent' }) });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
  }
  return {
    url: url.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: databaseUrl });
      await a.connect();
      await a.query(`drop database if exists "${name}" with (force)`);
      await a.end();
    },
  };
}

/**
 * Every run's folder (blob files, PGlite's data) is removed when the benchmark exits, not when the
 * run ends. This machine's root file system is ext4 without a journal, where the kernel will not
 * reuse an inode freed in the last 30 s or more and checks every such inode one by one. Removed
 * between runs, the previous run's files made the next run's file store pay for the benchmark's
 * own clean-up, which no deployment does (docs/internals/0015-benchmark-method.md).
 */
const runFolders: string[] = [];
process.once('exit', () => {
  for (const dir of runFolders) rmSync(dir, { recursive: true, force: true });
});
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) process.once(signal, () => process.exit(code));

/** A new folder for one run, under the system's temporary folder, removed at exit. */
export async function runFolder(prefix = 'refinery-bench-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  runFolders.push(dir);
  return dir;
}

export interface RunningRefinery {
  refinery: Refinery;
  url: string;
  client: RefineryClient;
  db: Db;
  /** The fresh PostgreSQL database it runs on (null on PGlite). */
  databaseUrl: string | null;
  /** With BENCH_PROFILE: the profiled database Refinery runs on. */
  profile: ProfiledDb | null;
  close(): Promise<void>;
}

/** A Refinery in this process on a fresh database of `backend`, listening on a loopback port. */
export async function startRefinery(backend: Backend): Promise<RunningRefinery> {
  const dir = await runFolder();
  const database = backend === 'postgres' ? await freshPostgresDatabase() : null;
  const opened = database ? await openPostgres({ connectionString: database.url, log: pino({ level: 'silent' }) }) : await openPglite(join(dir, 'pgdata'));
  const profile = process.env.BENCH_PROFILE ? profiledDb(opened) : null;
  const db = profile?.db ?? opened;
  const config = loadConfig({ port: '0', host: '127.0.0.1', dataDir: dir, adminKey, logLevel: 'warn' }, { REFINERY_CREATE_SLICE: process.env.REFINERY_CREATE_SLICE });
  const refinery = await createRefinery({ config, db, log: pino({ level: 'warn' }) });
  const url = await refinery.listen();
  return {
    refinery,
    url,
    db,
    databaseUrl: database?.url ?? null,
    profile,
    client: new RefineryClient({ url, apiKey: adminKey }),
    async close() {
      if (profile) console.error(`# profile (${backend})\n${profile.report()}`);
      await refinery.close();
      await db.close();
      await database?.drop();
    },
  };
}

/** `n` reference records, generated as they are sent. */
export async function* referenceRecords(n: number, prefix = `${Date.now()}`) {
  for (let i = 0; i < n; i++) {
    yield { type: 'reference', identifiers: [{ type: 'doi', value: `10.5555/${prefix}/${i}` }], content: { title: `Reference ${i}`, year: 1990 + (i % 35) } };
  }
}

const toyRobotMain = fileURLToPath(new URL('../../examples/toy-robot/src/main.ts', import.meta.url));

/** A toy robot in a process of its own, as robots run in practice. */
export function spawnToyRobot(url: string, robot: { id: string; secret: string }, batchSize: number): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', toyRobotMain], {
    env: { ...process.env, REFINERY_URL: url, ROBOT_ID: robot.id, ROBOT_SECRET: robot.secret, BATCH_SIZE: String(batchSize), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

const destinyRobotMain = fileURLToPath(new URL('./destinyRobot.ts', import.meta.url));

/** A robot speaking DESTINY's protocol (destinyRobot.ts) in a process of its own. */
export function spawnDestinyRobot(url: string, robot: { id: string; client_secret: string }, batchSize: number): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', destinyRobotMain], {
    env: { ...process.env, REFINERY_URL: url, ROBOT_ID: robot.id, ROBOT_SECRET: robot.client_secret, BATCH_SIZE: String(batchSize) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Registers a robot the DESTINY way (POST /v1/robots/), as its operator would. */
export async function registerDestinyRobot(url: string, name: string): Promise<{ id: string; client_secret: string }> {
  const res = await fetch(`${url}/v1/robots/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, description: 'the toy robot, speaking DESTINY', owner: 'bench' }),
  });
  if (res.status !== 201) throw new Error(`registering a DESTINY robot answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string; client_secret: string };
}

/** A field of /proc/<pid>/status, kB (0 once the process has ended). */
export async function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : 0;
}

/** Refinery in a process of its own, `node <nodeArgs> serve` on a loopback port; resolves once it is listening. */
export async function startRefineryProcess(nodeArgs: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...nodeArgs, 'serve'], {
    env: { ...process.env, REFINERY_ADMIN_KEY: adminKey, REFINERY_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`Refinery did not start: ${text}`)), 60_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`Refinery exited (${code}): ${text}`)));
  });
  // Past the start-up banner, pass on what Refinery logs (warnings and errors, as JSON lines).
  child.stderr!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) process.stderr.write(line + '\n');
  });
  return { child, url };
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once the processes have started and wait (robots in their long polls, Refinery for
 * work): none used more than 20 ms of CPU in the last half second. Starting a robot under tsx
 * costs seconds of CPU; four of them on two cores were still starting after a fixed 3 s wait,
 * and the clock counted that work against Refinery.
 */
export async function untilIdle(children: ChildProcess[], timeoutMs = 60_000): Promise<void> {
  const cpu = () => Promise.all(children.map((c) => procCpuSeconds(c.pid!)));
  const deadline = Date.now() + timeoutMs;
  let before = await cpu();
  for (;;) {
    await sleep(500);
    const now = await cpu();
    if (now.every((s, i) => s - before[i] <= 0.02)) return;
    if (Date.now() > deadline) throw new Error(`the processes were still starting after ${timeoutMs / 1000} s`);
    before = now;
  }
}

/** The p-th percentile (0–100) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
