/**
 * /metrics with many robots: `robots` robots each with requests pending at two priorities and a
 * callback URL nobody answers (webhook deliveries pending); then
 * `scrapes` GET /metrics one after another, timed from the request to the last byte.
 */
import { priorities } from '@refinery/protocol';
import { percentile, referenceRecords, startRefinery, type Backend } from './support.ts';

export interface MetricsScrapeResult {
  backend: Backend;
  robots: number;
  pendingItems: number;
  scrapes: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  bytes: number;
}

export async function metricsScrape(backend: Backend, options: { robots: number; itemsPerRobot: number; scrapes: number }): Promise<MetricsScrapeResult> {
  const running = await startRefinery(backend);
  try {
    const { client, url } = running;
    const imported = await client.importRecords(referenceRecords(options.itemsPerRobot, `metrics-${Date.now()}`));
    const ids = imported.ids;
    let pendingItems = 0;
    for (let i = 0; i < options.robots; i++) {
      const robot = await client.createRobot({ name: `metrics-${i}`, accepts: ['reference'], produces: [{ type: 'annotation' }] });
      const half = Math.ceil(ids.length / 2);
      for (const [n, recordIds] of [ids.slice(0, half), ids.slice(half)].entries()) {
        await client.createRequest({ robot_id: robot.id, record_ids: recordIds, priority: priorities[(i + n) % priorities.length], callback_url: 'http://127.0.0.1:9/hook' });
        pendingItems += recordIds.length;
      }
    }
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < options.scrapes; i++) {
      const t = performance.now();
      const res = await fetch(`${url}/metrics`);
      const text = await res.text();
      times.push(performance.now() - t);
      if (res.status !== 200 || !text.includes('refinery_items_pending')) throw new Error(`/metrics answered ${res.status}`);
      bytes = text.length;
    }
    return { backend, robots: options.robots, pendingItems, scrapes: options.scrapes, p50Ms: percentile(times, 50), p95Ms: percentile(times, 95), maxMs: Math.max(...times), bytes };
  } finally {
    await running.close();
  }
}
