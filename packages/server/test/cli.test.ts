import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { startToyRobot } from '../../../examples/toy-robot/src/robot.ts';
import { describeEachBackend, references } from './support/harness.ts';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

// The `refinery` CLI as a person runs it, against a real Refinery.
describeEachBackend('refinery CLI', (h) => {
  const refinery = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', cli, ...args], { env: { ...process.env, REFINERY_URL: h().url, REFINERY_API_KEY: h().adminKey, CI: 'true' } });

  it('creates a robot, imports records, creates a request and watches it to the end', async () => {
    const created = await refinery(['robots', 'create', '--name', `cli-toy-${Date.now()}`, '--accepts', 'reference', '--produces', 'annotation']);
    const robot = JSON.parse(created.stdout) as { id: string; secret: string };
    assert.match(created.stderr, /shown only this once/);

    const file = join(h().dataDir, 'records.jsonl');
    await writeFile(file, references(30).map((r) => JSON.stringify(r)).join('\n') + '\n');
    const imported = await refinery(['records', 'import', file]);
    const ids = (JSON.parse(imported.stdout) as { ids: string[] }).ids;
    assert.equal(ids.length, 30);
    const idsFile = join(h().dataDir, 'imported.json');
    await writeFile(idsFile, imported.stdout);

    const request = await refinery(['requests', 'create', '--robot', robot.id, '--records', idsFile]);
    const requestId = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(request.stdout + request.stderr)?.[0];
    assert.ok(requestId, request.stdout + request.stderr);

    const toy = startToyRobot({ url: h().url, robotId: robot.id, secret: robot.secret, limit: 10, wait: 'PT1S', quiet: true, handleSignals: false });
    try {
      const watched = await refinery(['requests', 'watch', requestId]);
      const output = watched.stdout + watched.stderr;
      assert.match(output, /completed/);
      assert.match(output, /completed\s+30/);
    } finally {
      await toy.stop();
    }
  });

  it('says what went wrong and exits 1 on a server error', async () => {
    await assert.rejects(refinery(['requests', 'show', '01900000-0000-7000-8000-000000000000']), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /not found/);
      return true;
    });
  });
});
