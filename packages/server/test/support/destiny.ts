import assert from 'node:assert/strict';
import { destiny } from '@refinery/protocol';
import type { ValidateFunction } from 'ajv';
import { strictAjv } from '../../src/http/validation.ts';
import type { Harness } from './harness.ts';

export interface DestinyRobot {
  id: string;
  client_secret: string;
}

/** DESTINY's models, checked as destiny_sdk's pydantic checks them: tagged unions by their tag. */
const ajv = strictAjv({ discriminator: true });
export const models = {
  Reference: ajv.compile(destiny.Reference),
  RobotResultValidationEntry: ajv.compile(destiny.RobotResultValidationEntry),
  RobotEnhancementBatch: ajv.compile(destiny.RobotEnhancementBatch),
  RobotEnhancementBatchRead: ajv.compile(destiny.RobotEnhancementBatchRead),
  EnhancementRequestRead: ajv.compile(destiny.EnhancementRequestRead),
  ProvisionedRobot: ajv.compile(destiny.ProvisionedRobot),
  Robot: ajv.compile(destiny.Robot),
};

/** Asserts that `value` is an instance of the model `validate` checks. */
export function assertModel(validate: ValidateFunction, value: unknown, what = JSON.stringify(value)): void {
  assert.ok(validate(value), `${what}\n${JSON.stringify(validate.errors)}`);
}

/** Registers a robot the DESTINY way (POST /v1/robots/, admin key). */
export async function registerDestinyRobot(h: Harness, input: Partial<destiny.RobotIn> = {}): Promise<DestinyRobot & destiny.Robot> {
  const res = await h.api('POST', '/v1/robots/', { body: { name: `destiny-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, description: 'a DESTINY robot', owner: 'tests', ...input } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assertModel(models.ProvisionedRobot, res.body);
  return res.body;
}

let calls = 0;

/**
 * A robot call over real HTTP, as destiny_sdk's RobotClient makes it: `Content-Type:
 * application/json` always (the poll and the renewal too, with an empty body), the body as httpx
 * writes it (compact JSON), signed over its bytes at `timestamp` (the harness clock's, in seconds,
 * by default). `headers` replace the signed ones (to send them wrong).
 */
export async function destinyCall(
  h: Harness,
  robot: DestinyRobot,
  method: string,
  path: string,
  body?: unknown,
  options: { timestamp?: number; headers?: Record<string, string | undefined>; raw?: string } = {},
): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const text = options.raw ?? (body === undefined ? '' : JSON.stringify(body));
  // time.time() moves between two calls; a clock a test holds still gets a microsecond a call.
  const timestamp = options.timestamp ?? h.clock.now().getTime() / 1000 + (++calls % 1000) / 1e6;
  const signed = destiny.signDestinyRequest({ clientId: robot.id, secret: robot.client_secret, body: text, timestamp });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries({ 'content-type': 'application/json', ...signed, ...options.headers })) if (value !== undefined) headers[name] = value;
  const res = await fetch(h.url + path, { method, headers, body: method === 'GET' ? undefined : text });
  const raw = await res.text();
  let parsed: unknown = raw;
  try {
    parsed = raw ? JSON.parse(raw) : null;
  } catch {
    // plain text (the renewal's expiry)
  }
  return { status: res.status, body: parsed, text: raw, headers: res.headers };
}

/** Polls for a batch (null on 204), as `poll_robot_enhancement_batch` does. */
export async function poll(h: Harness, robot: DestinyRobot, limit: number, lease?: string): Promise<destiny.RobotEnhancementBatch | null> {
  const res = await destinyCall(h, robot, 'POST', `/v1/robot-enhancement-batches/?robot_id=${robot.id}&limit=${limit}${lease ? `&lease=${lease}` : ''}`);
  if (res.status === 204) {
    assert.equal(res.text, '');
    return null;
  }
  assert.equal(res.status, 200, res.text);
  assertModel(models.RobotEnhancementBatch, res.body);
  return res.body;
}

/** The references of a batch's reference file, each line checked against DESTINY's Reference model. */
export async function referencesOf(batch: { reference_storage_url: string }): Promise<destiny.Reference[]> {
  const res = await fetch(batch.reference_storage_url);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.ok(text.endsWith('\n'), 'every line of the reference file ends with a newline');
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const reference = JSON.parse(line) as destiny.Reference;
      assertModel(models.Reference, reference, line);
      return reference;
    });
}

/** A toy robot's enhancement of a reference (toy-robot's generate_toy_enhancement), as a result file line. */
export function toyEnhancement(referenceId: string, toy = 'Buzz Lightyear', score = 0.72): string {
  return JSON.stringify({
    reference_id: referenceId,
    source: 'Toy Robot',
    visibility: 'public',
    robot_version: '0.2.0',
    content_version: 'ignored',
    content: { enhancement_type: 'annotation', annotations: [{ annotation_type: 'score', scheme: 'meta:toy', label: 'toy', score, data: { toy } }] },
  });
}

/** PUTs a result file to the batch's result_storage_url, as the toy robot does. */
export async function uploadResults(batch: { result_storage_url: string }, lines: string[]): Promise<void> {
  const body = lines.join('\n') + '\n';
  const put = await fetch(batch.result_storage_url, { method: 'PUT', body, headers: { 'content-type': 'application/jsonl', 'x-ms-blob-type': 'BlockBlob' } });
  assert.ok(put.status >= 200 && put.status < 300, `PUT answered ${put.status}`);
}

/** The lines of a validation result file, each checked against RobotResultValidationEntry. */
export async function validationEntries(url: string): Promise<destiny.RobotResultValidationEntry[]> {
  const text = await (await fetch(url)).text();
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const entry = JSON.parse(line) as destiny.RobotResultValidationEntry;
      assertModel(models.RobotResultValidationEntry, entry, line);
      return entry;
    });
}
