/**
 * The packages as a robot author gets them: @refinery/protocol, @refinery/sdk and
 * @refinery/server packed with `npm pack`, installed from the tarballs into a new project outside
 * the repository, and used there: the `refinery` command, and a robot written in TypeScript
 * against the installed SDK.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort, startedProcess, stopProcessGroup, untilHealthy } from './support/processes.ts';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const versionIn = (path: string) => (JSON.parse(readFileSync(join(repo, path, 'package.json'), 'utf8')) as { version: string }).version;
const adminKey = 'installed-admin-key-0123456789';

const robotSource = `import { runRobot } from '@refinery/sdk';

// For every record, one annotation: how long its title is.
const robot = runRobot({
  url: process.env.REFINERY_URL ?? 'http://localhost:8080',
  robotId: process.env.ROBOT_ID!,
  secret: process.env.ROBOT_SECRET!,
  robotVersion: '1.0.0',
  handler: (record) => {
    const title = String((record.content as { title?: unknown }).title ?? '');
    return { type: 'annotation', content: { annotations: [{ scheme: 'demo', label: 'title-length', score: Math.min(title.length / 100, 1) }] } };
  },
});
await robot.done;
`;

// Compiles only if the SDK's types reached the project: were they missing, or `any`, the directive would be unused.
const typesCheckSource = `import type { RunRobotOptions } from '@refinery/sdk';

// @ts-expect-error: a robot needs its secret
export const withoutSecret: RunRobotOptions = { url: 'http://localhost:8080', robotId: 'r', robotVersion: '1', handler: () => null };
`;

describe('the packages installed from their tarballs, outside the repository', () => {
  let dir: string;
  let project: string;
  let install: { stdout: string; stderr: string };
  const inProject = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(command, args, { cwd: project, env: { ...process.env, ...env } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'refinery-installed-'));
    const packed = await run('npm', ['pack', '--json', '--pack-destination', dir, '-w', '@refinery/protocol', '-w', '@refinery/sdk', '-w', '@refinery/server'], { cwd: repo });
    const tarballs = (JSON.parse(packed.stdout) as Array<{ filename: string }>).map((p) => join(dir, p.filename));
    assert.equal(tarballs.length, 3);
    project = join(dir, 'my-robot');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'my-robot', private: true, type: 'module' }));
    // A TypeScript robot author's project: the three tarballs, TypeScript and Node's types (the repository's versions, so npm's cache has them).
    install = await inProject('npm', [
      'install', '--no-audit', '--no-fund', '--prefer-offline',
      ...tarballs, `typescript@${versionIn('node_modules/typescript')}`, `@types/node@${versionIn('node_modules/@types/node')}`,
    ]);
  });

  after(() => rm(dir, { recursive: true, force: true }));

  it('installs on this Node.js without a warning about its version', () => {
    assert.doesNotMatch(install.stdout + install.stderr, /EBADENGINE|Unsupported engine/);
  });

  it('gives the refinery command: --version and --help', async () => {
    const version = await inProject('npx', ['refinery', '--version']);
    assert.equal(version.stdout.trim(), versionIn('packages/server'));
    const help = await inProject('npx', ['refinery', '--help']);
    for (const command of ['serve', 'robots', 'records', 'requests']) assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('serves, and a robot written in TypeScript against the SDK completes a request', async () => {
    await writeFile(join(project, 'robot.ts'), robotSource);
    await writeFile(join(project, 'typesReached.ts'), typesCheckSource);
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, skipLibCheck: true, types: ['node'] } }));
    await inProject('npx', ['tsc', '-p', '.']);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = startedProcess('npx', ['refinery', 'serve', '--port', String(port), '--data-dir', join(dir, 'data')], {
      cwd: project,
      env: { ...process.env, REFINERY_ADMIN_KEY: adminKey, HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    });
    let robot: ChildProcess | undefined;
    try {
      await untilHealthy(url, server);
      // The command npx ran, without npx's start-up each time.
      const refinery = (...args: string[]) => inProject(join(project, 'node_modules/.bin/refinery'), args, { REFINERY_URL: url, REFINERY_API_KEY: adminKey });

      const { id, secret } = JSON.parse((await refinery('robots', 'create', '--name', 'title-length', '--accepts', 'reference', '--produces', 'annotation')).stdout) as { id: string; secret: string };
      robot = startedProcess(process.execPath, ['robot.js'], { cwd: project, env: { ...process.env, REFINERY_URL: url, ROBOT_ID: id, ROBOT_SECRET: secret } });

      const records = Array.from({ length: 25 }, (_, i) => ({ type: 'reference', identifiers: [{ type: 'doi', value: `10.5555/installed.${i}` }], content: { title: `Record ${i}` } }));
      await writeFile(join(project, 'records.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
      await writeFile(join(project, 'imported.json'), (await refinery('records', 'import', 'records.jsonl')).stdout);
      const request = JSON.parse((await refinery('requests', 'create', '--robot', id, '--records', 'imported.json', '--json')).stdout) as { id: string };
      await refinery('requests', 'watch', request.id);

      const done = JSON.parse((await refinery('requests', 'show', request.id, '--json')).stdout) as { status: string; counts: { completed: number } };
      assert.equal(done.status, 'completed');
      assert.equal(done.counts.completed, 25);

      // The dashboard, from the files the package ships.
      const page = await fetch(`${url}/ui/`);
      assert.equal(page.status, 200);
      const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
      assert.ok(script, 'the dashboard page loads its script');
      assert.equal((await fetch(`${url}${script}`)).status, 200);
    } finally {
      if (robot) await stopProcessGroup(robot);
      await stopProcessGroup(server);
    }
  });
});
