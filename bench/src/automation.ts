/**
 * Automation latency (docs/automations.md): one automation fires on new `reference` records for a
 * robot that waits in a long poll (SDK RobotClient, `wait` 20 s, in this process). Each round
 * imports one new record (SDK RefineryClient) and times from the import's answer, which comes
 * right after its commit, to the lease answer of the batch of the request the automation made.
 * Rounds run one after another, each once the previous batch was leased and the next poll sent.
 * REFINERY_AUTOMATION_WINDOW is the gathering window under test: the target is p50 under the
 * window plus 50 ms.
 */
import { join } from 'node:path';
import pino from 'pino';
import { RefineryClient, RobotClient } from '@refinery/sdk';
import { createRefinery, loadConfig, openPglite, openPostgres } from '@refinery/server';
import { adminKey, freshPostgresDatabase, percentile, runFolder, sleep, type Backend } from './support.ts';

export interface AutomationLatencyResult {
  backend: Backend;
  windowMs: number;
  rounds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export async function automationLatency(backend: Backend, options: { windowSeconds: number; rounds: number }): Promise<AutomationLatencyResult> {
  const dir = await runFolder();
  const database = backend === 'postgres' ? await freshPostgresDatabase() : null;
  const db = database ? await openPostgres({ connectionString: database.url, log: pino({ level: 'silent' }) }) : await openPglite(join(dir, 'pgdata'));
  const config = loadConfig({ port: '0', host: '127.0.0.1', dataDir: dir, adminKey, logLevel: 'warn' }, { REFINERY_AUTOMATION_WINDOW: String(options.windowSeconds) });
  const refinery = await createRefinery({ config, db, log: pino({ level: 'warn' }) });
  const url = await refinery.listen();
  try {
    const client = new RefineryClient({ url, apiKey: adminKey });
    const robot = await client.createRobot({ name: `automation-bench-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }] });
    await client.createAutomation({ robot_id: robot.id, trigger: { records: { type: 'reference' } } });
    const robotClient = new RobotClient({ url, robotId: robot.id, secret: robot.secret });
    const latencies: number[] = [];
    for (let i = 0; i < options.rounds; i++) {
      const leased = robotClient.lease({ wait: 'PT20S', limit: 10 }).then((batch) => ({ batch, at: performance.now() }));
      // The poll is parked in Refinery before the import.
      await sleep(20);
      await client.importRecords([{ type: 'reference', identifiers: [{ type: 'doi', value: `10.5555/automation/${Date.now()}/${i}` }], content: { title: `Reference ${i}` } }]);
      const committed = performance.now();
      const { batch, at } = await leased;
      if (!batch) throw new Error(`automation latency: round ${i} leased nothing within 20 s`);
      latencies.push(at - committed);
    }
    return {
      backend,
      windowMs: options.windowSeconds * 1000,
      rounds: options.rounds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: Math.max(...latencies),
    };
  } finally {
    await refinery.close();
    await db.close();
    await database?.drop();
  }
}
