import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually, testMasterKey } from './harness.ts';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const cliScript = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** The admin key of a `refinery serve` process, unless its `env` sets another. */
export const serveAdminKey = 'serve-process-admin-key-0123';

/** A `refinery serve` OS process. */
export interface Spawned {
  child: ChildProcess;
  /** The URL from its banner, once it listens; rejects if it exits first. */
  url: Promise<string>;
  /** How it ended. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM (a graceful stop), SIGKILL after 5 s; waits for it to be gone. */
  stop(): Promise<void>;
}

/** A `refinery serve` process that listens, and whose /readyz answered 200. */
export type ServeProcess = Omit<Spawned, 'url'> & { url: string };

/**
 * `refinery serve` as an operator runs it, in a process of its own, on a loopback port (0 unless
 * `env` or `args` say otherwise): the test runner's environment less every Refinery, database and
 * AWS setting, plus `env`.
 */
export function spawnServe(env: Record<string, string>, args: string[] = []): Spawned {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(base)) if (/^(AWS_|REFINERY_|DATABASE_URL$|NODE_TEST_CONTEXT$|NODE_OPTIONS$)/.test(k)) delete base[k];
  const child = spawn(process.execPath, ['--import', 'tsx', cliScript, 'serve', ...args], {
    cwd: repoRoot,
    env: { ...base, PORT: '0', HOST: '127.0.0.1', REFINERY_ADMIN_KEY: serveAdminKey, REFINERY_MASTER_KEY: testMasterKey, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    output += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      process.off('exit', kill);
      resolve({ code, signal });
    }),
  );
  const url = new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      output += chunk;
      const listening = /Refinery is listening on (\S+)/.exec(stderr);
      if (listening) resolve(listening[1]);
    });
    void exit.then(({ code, signal }) => reject(new Error(`refinery serve exited (${code ?? signal}) before it listened:\n${output}`)));
  });
  url.catch(() => {});
  return {
    child,
    url,
    exit,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts `refinery serve` with `env` (spawnServe); resolves once it listens and /readyz answers,
 * each within `timeoutMs` (default 30 s). Its log lines show up in the test output, marked with
 * `name`; its start-up banner does not.
 */
export async function startServe(name: string, env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<ServeProcess> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const spawned = spawnServe(env);
  const echo = (chunk: Buffer | string) => {
    for (const line of String(chunk).split('\n')) if (line.trim().startsWith('{')) process.stderr.write(`[${name}] ${line}\n`);
  };
  spawned.child.stdout!.on('data', echo);
  spawned.child.stderr!.on('data', echo);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`process ${name} did not start within ${timeoutMs / 1000} s:\n${spawned.output()}`)), timeoutMs)));
  try {
    const url = await Promise.race([spawned.url, late]);
    await eventually(async () => ((await fetch(`${url}/readyz`).catch(() => null))?.status === 200 ? true : undefined), timeoutMs, `${name} /readyz`);
    return { ...spawned, url };
  } catch (err) {
    await spawned.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
