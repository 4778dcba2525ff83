#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerClientCommands } from './cli/client-commands.ts';
import { ConfigError, loadConfig } from './config.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const program = new Command('refinery').description('Robots enhance records in batches, reliably and fast.').version(version);

program
  .command('serve')
  .description('Run Refinery (embedded PGlite and file blobs unless DATABASE_URL / REFINERY_BLOB_URL say otherwise)')
  .option('--port <port>', 'TCP port (PORT; default 8080)')
  .option('--host <host>', 'interface to listen on (HOST; default 0.0.0.0)')
  .option('--data-dir <dir>', 'where embedded data lives (REFINERY_DATA_DIR; default ./refinery-data)')
  .action(async (flags: { port?: string; host?: string; dataDir?: string }) => {
    let config;
    let refinery;
    try {
      config = loadConfig(flags);
      // Loaded here, not at the top: the client commands need none of the server (0.6 s a command).
      const { createRefinery } = await import('./refinery.ts');
      refinery = await createRefinery({ config });
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`refinery: ${err.message}`);
        process.exit(2);
      }
      throw err;
    }
    const url = await refinery.listen();
    const mode = config.databaseUrl ? 'PostgreSQL' : `embedded PGlite in ${config.dataDir}`;
    process.stderr.write(`\nRefinery is listening on ${url} (${mode}; blobs: ${refinery.ctx.blobs.description})\n`);
    if (refinery.newAdminKey) process.stderr.write(`Admin key: ${refinery.newAdminKey}\n  export REFINERY_URL=${url} REFINERY_API_KEY=${refinery.newAdminKey}\n`);
    else process.stderr.write(`Admin key: ${config.adminKey ? 'from REFINERY_ADMIN_KEY' : 'made at first start (set REFINERY_ADMIN_KEY to choose one)'}\n`);
    process.stderr.write(`API docs: ${url}/docs\n\n`);
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      refinery.ctx.log.info({ signal }, 'shutting down');
      await refinery.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  });

registerClientCommands(program);

await program.parseAsync(process.argv);
