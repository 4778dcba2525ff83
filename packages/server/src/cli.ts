#!/usr/bin/env node
import { Command } from 'commander';
import { registerClientCommands } from './cli/client-commands.ts';
import { serve } from './serve.ts';

const program = new Command('refinery').description('Robots enhance records in batches, reliably and fast.');

program
  .command('serve')
  .description('Run Refinery (embedded PGlite and file blobs unless DATABASE_URL / REFINERY_BLOB_URL say otherwise)')
  .option('--port <port>', 'TCP port (PORT; default 8080)')
  .option('--host <host>', 'interface to listen on (HOST; default 0.0.0.0)')
  .option('--data-dir <dir>', 'where embedded data lives (REFINERY_DATA_DIR; default ./refinery-data)')
  .action(serve);

registerClientCommands(program);

await program.parseAsync(process.argv);
