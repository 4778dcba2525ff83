import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { availableBackends, tempDir, testDatabaseUrl } from './support/backends.ts';
import { freePort } from './support/processes.ts';
import { spawnServe } from './support/serveProcess.ts';

/** A PostgreSQL URL like the test server's, with `change` applied. */
function postgresUrl(change: (url: URL) => void): string {
  const url = new URL(testDatabaseUrl);
  change(url);
  return url.toString();
}

/** Runs `refinery serve` expecting it to refuse: its exit code and what it said on stderr. */
async function refused(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; lines: string[] }> {
  const served = spawnServe(env, args);
  const { code } = await served.exit;
  return { code, lines: served.stderr().trim().split('\n') };
}

function assertOneLine(result: { code: number | null; lines: string[] }, code: number, pattern: RegExp): void {
  assert.equal(result.lines.length, 1, result.lines.join('\n'));
  assert.match(result.lines[0], /^refinery: /);
  assert.match(result.lines[0], pattern);
  assert.equal(result.code, code, result.lines.join('\n'));
}

describe('refinery serve refuses to start with one clear line and an exit code per cause', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let postgres = false;
  before(async () => {
    dir = await tempDir();
    postgres = (await availableBackends()).some((b) => b.name === 'postgres');
  });
  after(async () => {
    await dir.remove();
  });

  it('PostgreSQL unreachable, a database that does not exist, a user it refuses', async (t) => {
    if (!postgres) return t.skip('no PostgreSQL');
    const port = await freePort();
    const unreachable = postgresUrl((u) => {
      u.hostname = '127.0.0.1';
      u.port = String(port);
    });
    assertOneLine(await refused({ DATABASE_URL: unreachable }), 3, new RegExp(`nothing accepts connections at 127\\.0\\.0\\.1:${port}`));
    assertOneLine(await refused({ DATABASE_URL: postgresUrl((u) => (u.pathname = '/refinery_no_such_database')) }), 3, /has no database "refinery_no_such_database"/);
    assertOneLine(await refused({ DATABASE_URL: postgresUrl((u) => ((u.username = 'refinery_no_such_user'), (u.password = 'wrong'))) }), 3, /refused user "refinery_no_such_user"/);
  });

  it('says the stack too at LOG_LEVEL=debug', async () => {
    const file = join(dir.path, 'debug-a-file');
    await writeFile(file, 'not a directory');
    const result = await refused({ LOG_LEVEL: 'debug' }, ['--data-dir', file]);
    assert.equal(result.code, 5);
    assert.match(result.lines[0], /is a file, not a directory/);
    assert.ok(result.lines.some((l) => /^\s+at /.test(l)), result.lines.join('\n'));
  });

  it('a data directory that is a file', async () => {
    const file = join(dir.path, 'a-file');
    await writeFile(file, 'not a directory');
    assertOneLine(await refused({}, ['--data-dir', file]), 5, new RegExp(`data directory ${file} cannot be used: it is a file, not a directory`));
  });

  it('a port in use, and a data directory in use by another Refinery, naming its process', async () => {
    const first = spawnServe({}, ['--data-dir', join(dir.path, 'shared')]);
    try {
      const port = Number(new URL(await first.url).port);
      assertOneLine(await refused({ PORT: String(port) }, ['--data-dir', join(dir.path, 'other')]), 4, new RegExp(`port ${port} .*is in use`));
      assertOneLine(await refused({}, ['--data-dir', join(dir.path, 'shared')]), 5, new RegExp(`data directory ${join(dir.path, 'shared')} is in use by another Refinery \\(process ${first.child.pid}\\)`));
    } finally {
      first.child.kill('SIGTERM');
      await first.exit;
    }
  });

  it('a setting that is not valid', async () => {
    assertOneLine(await refused({ REFINERY_BODY_TIMEOUT: 'soon' }, ['--data-dir', join(dir.path, 'config')]), 2, /REFINERY_BODY_TIMEOUT must be a duration/);
  });

  it('starts on a data directory whose last holder was killed (SIGKILL)', async () => {
    const data = join(dir.path, 'killed');
    const first = spawnServe({}, ['--data-dir', data]);
    await first.url;
    first.child.kill('SIGKILL');
    await first.exit;
    const second = spawnServe({}, ['--data-dir', data]);
    try {
      assert.equal((await fetch(`${await second.url}/readyz`)).status, 200);
    } finally {
      second.child.kill('SIGTERM');
      assert.equal((await second.exit).code, 0);
    }
  });
});
