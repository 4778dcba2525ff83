import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from './harness.ts';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const cliScript = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** A `refinery serve` OS process on a loopback port. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Ends it with SIGKILL, as a crash would, and waits for it to be gone. */
  kill(): Promise<void>;
  /** SIGTERM (a graceful stop), SIGKILL after 5 s; waits for it to be gone. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const killAll = () => {
  for (const child of running) child.kill('SIGKILL');
};

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts `refinery serve` with `env` on top of this process's environment; resolves once it
 * listens and /readyz answers. Its warnings and errors (LOG_LEVEL=warn) show in the test output,
 * prefixed with `name`. Any still running when the tests' process exits are killed.
 */
export async function startServe(name: string, env: Record<string, string>): Promise<ServeProcess> {
  const childEnv: NodeJS.ProcessEnv = { LOG_LEVEL: 'warn', ...process.env, ...env };
  for (const k of ['REFINERY_BLOB_URL', 'REFINERY_PUBLIC_URL', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) if (!(k in env)) delete childEnv[k];
  const child = spawn(process.execPath, ['--import', 'tsx', cliScript, 'serve', '--port', '0', '--host', '127.0.0.1'], { cwd: repoRoot, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  if (running.size === 0) process.once('exit', killAll);
  running.add(child);
  child.once('exit', () => {
    running.delete(child);
    if (running.size === 0) process.off('exit', killAll);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`process ${name} did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      const match = /Refinery is listening on (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
      for (const line of text.split('\n')) if (line.trim().startsWith('{')) process.stderr.write(`[${name}] ${line}\n`);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`process ${name} exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  await eventually(async () => ((await fetch(`${url}/readyz`).catch(() => null))?.status === 200 ? true : undefined), 15_000, `${name} /readyz`);
  return {
    child,
    url,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async stop() {
      const gone = exited(child);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
