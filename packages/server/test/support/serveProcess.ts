import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from './harness.ts';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const cliScript = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** A `refinery serve` OS process on a loopback port. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM (a graceful stop), SIGKILL after 5 s; waits for it to be gone. */
  stop(): Promise<void>;
}

/** Starts `refinery serve` with `env` on top of this process's environment; resolves once it listens and /readyz answers. */
export async function startServe(name: string, env: Record<string, string>): Promise<ServeProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of ['REFINERY_BLOB_URL', 'REFINERY_PUBLIC_URL', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) delete childEnv[k];
  const child = spawn(process.execPath, ['--import', 'tsx', cliScript, 'serve', '--port', '0', '--host', '127.0.0.1'], { cwd: repoRoot, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  process.once('exit', () => child.kill('SIGKILL'));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process ${name} did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      const match = /Refinery is listening on (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
      // Server warnings and errors (LOG_LEVEL=warn) show up in the test output; the start-up banner does not.
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
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
