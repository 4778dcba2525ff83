import { loadConfig, type Config } from './config.ts';
import { createRefinery, type Refinery } from './refinery.ts';
import { startupFailure } from './startup.ts';

/**
 * `refinery serve`: starts Refinery, or says in one line why it cannot (the stack too at
 * LOG_LEVEL=debug) and exits with the code of that cause; stops on SIGTERM or SIGINT.
 */
export async function serve(flags: { port?: string; host?: string; dataDir?: string }): Promise<void> {
  let config: Config | undefined;
  let refinery: Refinery | undefined;
  let url: string;
  try {
    config = loadConfig(flags);
    refinery = await createRefinery({ config });
    url = await refinery.listen();
  } catch (err) {
    const { message, exitCode } = startupFailure(err);
    process.stderr.write(`refinery: ${message}\n`);
    if (/^(debug|trace)$/.test(config?.logLevel ?? process.env.LOG_LEVEL ?? '') && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    if (refinery) await stopWithin(refinery, config!.shutdownTimeoutMs);
    process.exit(exitCode);
  }
  const mode = config.databaseUrl ? 'PostgreSQL' : `embedded PGlite in ${config.dataDir}`;
  process.stderr.write(`\nRefinery is listening on ${url} (${mode}; blobs: ${refinery.ctx.blobs.description})\n`);
  if (refinery.newAdminKey) process.stderr.write(`Admin key: ${refinery.newAdminKey}\n  export REFINERY_URL=${url} REFINERY_API_KEY=${refinery.newAdminKey}\n`);
  else process.stderr.write(`Admin key: ${config.adminKey ? 'from REFINERY_ADMIN_KEY' : 'made at first start (set REFINERY_ADMIN_KEY to choose one)'}\n`);
  if (refinery.newMasterKeyFile) process.stderr.write(`Master key: made at first start in ${refinery.newMasterKeyFile}; keep a copy of it apart from the data (docs/encryption.md)\n`);
  process.stderr.write(`API docs: ${url}/docs\n\n`);

  const running = refinery;
  const { shutdownTimeoutMs } = config;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      running.ctx.log.warn({ signal }, 'stopping now, without draining (a second signal)');
      process.exit(1);
    }
    stopping = true;
    running.ctx.log.info({ signal, timeout_ms: shutdownTimeoutMs }, 'shutting down: draining what is under way');
    process.exit((await stopWithin(running, shutdownTimeoutMs)) ? 0 : 1);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * Closes `refinery` (it stops taking requests and lets what is under way finish); true when that
 * took less than `ms`. Past `ms` the caller exits anyway: whatever was cut short is in the
 * database as unfinished, and resumed (imports of results by the import-resumption service; a records import
 * rolls back whole and was never answered).
 */
async function stopWithin(refinery: Refinery, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const drained = await Promise.race([refinery.close().then(() => true as const), late]);
  clearTimeout(timer);
  if (!drained) refinery.ctx.log.error({ timeout_ms: ms }, 'shutdown did not finish within REFINERY_SHUTDOWN_TIMEOUT; stopping anyway (unfinished work is resumed at the next start)');
  return drained;
}
