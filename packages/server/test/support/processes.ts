/** Programs a test runs as a person would, each in a process group of its own, and stops with everything it started. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';

/** A started program, with what it has printed so far (stdout and stderr). */
export type Started = ChildProcess & { output(): string };

export function startedProcess(command: string, args: string[], options: SpawnOptions): Started {
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output += chunk.toString());
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return Object.assign(child, { output: () => output });
}

/**
 * Stops a program and whatever it started (`npx` and `npm run` do not pass SIGTERM on): SIGTERM
 * to its process group, SIGKILL what is left after 10 s.
 */
export async function stopProcessGroup(child: ChildProcess): Promise<void> {
  const signal = (name: NodeJS.Signals | 0) => {
    try {
      process.kill(-child.pid!, name);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  if (!signal('SIGTERM')) return;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    if (!signal(0)) return;
  }
  signal('SIGKILL');
}

/** A TCP port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Resolves once `url`/healthz answers 200; fails with what the server printed if it exits or 60 s pass. */
export async function untilHealthy(url: string, server: Started): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the server exited (${server.exitCode}):\n${server.output()}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the server did not answer /healthz within 60 s:\n${server.output()}`);
}
