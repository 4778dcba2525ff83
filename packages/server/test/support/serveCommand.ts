import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
export const serveAdminKey = 'serve-process-admin-key-0123';

export interface Spawned {
  child: ChildProcess;
  /** The URL from its banner, once it listens; rejects if it exits first. */
  url: Promise<string>;
  /** How it ended. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  stdout(): string;
}

/**
 * `refinery serve` as an operator runs it, in a process of its own: the test runner's environment,
 * less any DATABASE_URL, plus `env`; port 0 unless `env` or `args` say otherwise.
 */
export function spawnServe(env: Record<string, string>, args: string[] = []): Spawned {
  const base: Record<string, string | undefined> = { ...process.env, PORT: '0', REFINERY_ADMIN_KEY: serveAdminKey, LOG_LEVEL: 'info' };
  delete base.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const listening = /Refinery is listening on (\S+)/.exec(stderr);
      if (listening) resolve(listening[1]);
    });
    void exit.then(({ code, signal }) => reject(new Error(`refinery serve exited (${code ?? signal}) before it listened: ${stderr}`)));
  });
  url.catch(() => {});
  return { child, url, exit, stderr: () => stderr, stdout: () => stdout };
}
