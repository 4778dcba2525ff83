// Runs every test file (packages/*/test, examples/*/test) with node's own runner, through tsx.
// Node 20's --test takes no globs, so the files are found here.
// The tests run the sources; those that run the `refinery` command or pack the packages use
// their build (dist/), which is brought up to date first.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function testFiles(dir) {
  let found = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found = found.concat(testFiles(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const roots = ['packages', 'examples'].flatMap((top) => readdirSync(top).map((p) => join(top, p, 'test')));
const files = roots.filter((r) => { try { return statSync(r).isDirectory(); } catch { return false; } }).flatMap(testFiles).sort();
const filter = process.argv.slice(2);
const selected = filter.length ? files.filter((f) => filter.some((x) => f.includes(x))) : files;
const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...selected], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
