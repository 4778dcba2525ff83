#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerClientCommands } from './cli/index.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const program = new Command('refinery').description('Robots enhance records in batches, reliably and fast.').version(version);

program
  .command('serve')
  .description('Run Refinery (embedded PGlite and file blobs unless DATABASE_URL / REFINERY_BLOB_URL say otherwise)')
  .option('--port <port>', 'TCP port (PORT; default 8080)')
  .option('--host <host>', 'interface to listen on (HOST; default 0.0.0.0)')
  .option('--data-dir <dir>', 'where embedded data lives (REFINERY_DATA_DIR; default ./refinery-data)')
  // Loaded when it runs: the client commands need none of the server.
  .action(async (flags: { port?: string; host?: string; dataDir?: string }) => (await import('./serve.ts')).serve(flags));

registerClientCommands(program);

await program.parseAsync(process.argv);
