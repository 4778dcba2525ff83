/**
 * Before and after in one run: the end-to-end section (one run on `backend`, PostgreSQL by
 * default) of this checkout and of an earlier commit (`ref`), alternating round by round so that
 * the machine's drift falls on both alike. The earlier commit is checked out once, with
 * `git worktree`, in the system's temporary folder and installed with `npm ci`; later runs reuse it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { EndToEndResult } from './endToEnd.ts';
import { percentile, type Backend } from './support.ts';

const run = promisify(execFile);
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface BaselineResult {
  ref: string;
  backend: Backend;
  commit: string;
  rounds: Array<{ before: EndToEndResult; after: EndToEndResult }>;
  /** Medians over the rounds: items per second and CPU seconds per 100,000 items (Refinery's process, the robots, PostgreSQL). */
  before: Figures;
  after: Figures;
  /** The median of the rounds' own ratios, after / before. */
  ratio: number;
}

interface Figures {
  itemsPerSecond: number;
  refineryCpu: number;
  robotsCpu: number;
  postgresqlCpu: number;
}

async function checkout(ref: string): Promise<{ dir: string; commit: string }> {
  const commit = (await run('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: root })).stdout.trim();
  const dir = join(tmpdir(), `refinery-baseline-${commit.slice(0, 12)}`);
  if (!existsSync(join(dir, 'package.json'))) {
    await run('git', ['worktree', 'prune'], { cwd: root });
    await run('git', ['worktree', 'add', '--force', '--detach', dir, commit], { cwd: root });
  }
  if (!existsSync(join(dir, 'node_modules', '.package-lock.json'))) {
    console.error(`# baseline: npm ci in ${dir}`);
    await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  }
  return { dir, commit };
}

/** One end-to-end run of the checkout at `dir`, in a process of its own, read from the JSON its e2e section logs. */
function endToEndIn(dir: string, backend: Backend, records: number): Promise<EndToEndResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/src/run.ts'], {
      cwd: dir,
      env: { ...process.env, BENCH_ONLY: 'e2e', BENCH_BACKENDS: backend, BENCH_E2E_RUNS: '1', BENCH_RECORDS: String(records), BENCH_PROFILE: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (err += text));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = err.split('\n').find((l) => l.startsWith('# e2e: '));
      if (code !== 0 || !line) return reject(new Error(`the end-to-end run in ${dir} failed (exit ${code}):\n${err.slice(-2000)}`));
      const [result] = JSON.parse(line.slice(line.indexOf('['))) as EndToEndResult[];
      resolvePromise(result);
    });
  });
}

const figures = (runs: EndToEndResult[]): Figures => {
  const median = (f: (r: EndToEndResult) => number) => percentile(runs.map(f), 50);
  const per100k = (s: number, r: EndToEndResult) => (s * 100_000) / r.records;
  return {
    itemsPerSecond: median((r) => r.itemsPerSecond),
    refineryCpu: median((r) => per100k(r.cpuSeconds.refinery, r)),
    robotsCpu: median((r) => per100k(r.cpuSeconds.robots, r)),
    postgresqlCpu: median((r) => per100k(r.cpuSeconds.postgresql, r)),
  };
};

export async function baseline(options: { ref: string; backend: Backend; rounds: number; records: number }): Promise<BaselineResult> {
  const { dir, commit } = await checkout(options.ref);
  const rounds: BaselineResult['rounds'] = [];
  for (let i = 0; i < options.rounds; i++) {
    // Alternating which goes first: the second run of a round finds the machine warmer.
    const [first, second] = i % 2 === 0 ? [dir, root] : [root, dir];
    const a = await endToEndIn(first, options.backend, options.records);
    const b = await endToEndIn(second, options.backend, options.records);
    rounds.push(first === dir ? { before: a, after: b } : { before: b, after: a });
  }
  return {
    ref: options.ref,
    backend: options.backend,
    commit,
    rounds,
    before: figures(rounds.map((r) => r.before)),
    after: figures(rounds.map((r) => r.after)),
    ratio: percentile(
      rounds.map((r) => r.after.itemsPerSecond / r.before.itemsPerSecond),
      50,
    ),
  };
}
