/**
 * The README's "A robot in one minute", run as printed: `npm start` on a fresh data folder, the
 * `export REFINERY_URL=… REFINERY_API_KEY=…` line it prints pasted, then the walkthrough's
 * commands, read from README.md, in bash.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { RefineryClient } from '@refinery/sdk';
import { eventually } from './support/harness.ts';
import { freePort, startedProcess, stopProcessGroup, untilHealthy, type Started } from './support/processes.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/** The shell block of a README section. */
function commandsOf(section: string): string {
  const text = readFileSync(join(repo, 'README.md'), 'utf8').split(/^## /m).find((s) => s.startsWith(`${section}\n`));
  const block = text && /^```sh\n([\s\S]*?)^```/m.exec(text)?.[1];
  assert.ok(block, `README.md has no sh block under "## ${section}"`);
  return block;
}

it("runs the README's walkthrough as printed, and the request completes", async () => {
  const commands = commandsOf('A robot in one minute');
  const dataDir = await mkdtemp(join(tmpdir(), 'refinery-walkthrough-'));
  const port = await freePort();
  const server = startedProcess('npm', ['start'], { cwd: repo, env: { ...process.env, PORT: String(port), REFINERY_DATA_DIR: dataDir } });
  let walkthrough: Started | undefined;
  try {
    await untilHealthy(`http://127.0.0.1:${port}`, server);
    const pasted = await eventually(async () => /^\s*(export REFINERY_URL=\S+ REFINERY_API_KEY=\S+)\s*$/m.exec(server.output())?.[1], 15_000, 'the export line');

    walkthrough = startedProcess('bash', ['-c', `set -euo pipefail\n${pasted}\n${commands}`], { cwd: repo, env: { ...process.env } });
    const [code] = await once(walkthrough, 'exit');
    assert.equal(code, 0, walkthrough.output());
    assert.match(walkthrough.output(), /Request \S+ completed in/);

    const env = Object.fromEntries([...pasted.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    const client = new RefineryClient({ url: env.REFINERY_URL!, apiKey: env.REFINERY_API_KEY! });
    const [request] = (await client.listRequests({ limit: 10 })).data;
    assert.equal(request?.status, 'completed');
    const records = readFileSync(join(repo, 'examples/toy-robot/sample-records.jsonl'), 'utf8').trim().split('\n').length;
    assert.equal(request.counts.completed, records);
  } finally {
    if (walkthrough) await stopProcessGroup(walkthrough);
    await stopProcessGroup(server);
    await rm(dataDir, { recursive: true, force: true });
  }
});
