import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import fc from 'fast-check';
import { destiny, isApiErrorCode, signRequest, type ProvisionedRobot } from '@refinery/protocol';
import { destinyCall, poll, referencesOf, registerDestinyRobot } from './support/destiny.ts';
import { describeEachBackend, eventually, references, type Harness } from './support/harness.ts';
import { hostileText, mutate, mutation, serialize, textDamage, validValue, type Mutation } from './support/hostile.ts';
import { exchange } from './support/rawHttp.ts';
import { answer, operations, type Operation } from './support/routes.ts';
import { whyUnstorable } from '../src/db/storableJson.ts';

// Hostile input, generated: for every route the API describes, calls made up from its own schema
// (path, query, headers, body; JSON Lines where it takes them) and then broken (wrong types,
// missing and extra fields, huge numbers, NUL, lone surrogates, deep nesting, urn:uuid ids, odd
// unicode, wrong content types, broken JSON), sent with valid credentials of the route's kind and
// without. Whatever is sent: no 5xx; every error in the {"error":{"code","message"}} shape; a call
// without valid credentials is refused as such, whatever else it holds; a refused call changes
// nothing; a body holding a value no column can hold as sent is never taken. Results files of
// generated lines, Refinery's and DESTINY's, are imported, and each batch finishes.
//
// FUZZ_SEED replays a run (the seed is printed first); FUZZ_RUNS sets the runs per route;
// FUZZ_ROUTE keeps only the routes whose `METHOD /path` holds it; FUZZ_NO_SHRINK reports the first
// failing call as it was; FUZZ_VERBOSE prints the statuses each route answered.

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const runs = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : null;
const onlyRoute = process.env.FUZZ_ROUTE;
/** Runs per route by default: PGlite answers several times slower than PostgreSQL. */
const defaultRuns = { postgres: 10, pglite: 5 };
console.log(`# hostile input: seed ${seed} (replay with FUZZ_SEED=${seed}), ${runs ?? `${defaultRuns.postgres} (PGlite: ${defaultRuns.pglite})`} runs per route (FUZZ_RUNS)`);

type Credentials = 'valid' | 'requester' | 'none' | 'unknown' | 'malformed' | 'destiny' | 'wrongSecret' | 'otherBody' | 'stranger' | 'unsigned';
const refusedCredentials = new Set<Credentials>(['none', 'unknown', 'malformed', 'wrongSecret', 'otherBody', 'stranger', 'unsigned']);

interface Call {
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: Buffer;
  contentType?: string;
  credentials: Credentials;
}

interface World {
  robot: ProvisionedRobot;
  victim: ProvisionedRobot;
  requester: string;
  spareKeyId: string;
  recordIds: string[];
  requestId: string;
  batch: { id: string; lease_token: string; items_url: string; results_url: string };
}

/** The ids that exist, by the name of the field or parameter that takes them (the path's by its route). */
function idsFor(w: World, route: string) {
  return (name: string): string[] => {
    if (name === 'robot_id') return [w.victim.id, w.robot.id];
    if (name === 'record_ids' || name === 'reference_ids') return w.recordIds;
    if (name === 'request_id') return [w.requestId];
    if (name === 'lease_token') return [w.batch.lease_token];
    if (name !== 'id') return [randomUUID()];
    if (route.startsWith('/v1/api-keys')) return [w.spareKeyId];
    if (route.startsWith('/v1/records') || route.startsWith('/v1/references')) return w.recordIds;
    if (route.startsWith('/v1/robots')) return [w.victim.id];
    if (route.startsWith('/v1/requests') || route.startsWith('/v1/enhancement-requests')) return [w.requestId];
    return [w.batch.id];
  };
}

const contentTypes = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/x-ndjson', 'application/json; charset=utf-16', 'application/octet-stream', 'application/json, text/plain', ''];
const jsonLines = ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines'];

/** Some JSON text: valid for the schema, mutated, then perhaps broken as text. */
function jsonBody(valid: fc.Arbitrary<unknown>, ids: string[]): fc.Arbitrary<Buffer> {
  return fc
    .record({
      value: valid,
      mutations: fc.oneof({ weight: 2, arbitrary: fc.constant<Array<[Mutation, number]>>([]) }, { weight: 3, arbitrary: fc.array(fc.tuple(mutation(ids), fc.nat()), { minLength: 1, maxLength: 2 }) }),
      damage: fc.option(textDamage(), { freq: 6 }),
    })
    .map(({ value, mutations, damage }) => {
      const mutated = mutations.reduce((v, [m, at]: [Mutation, number]) => mutate(v, m, at), value);
      const text = Buffer.from(serialize(mutated));
      return damage ? damage(text) : text;
    });
}

/** JSON Lines of records for POST /v1/records: lines valid, mutated or broken, with blank lines and CRLF. */
function jsonLinesBody(record: fc.Arbitrary<unknown>, ids: string[]): fc.Arbitrary<Buffer> {
  const line = fc.oneof({ weight: 3, arbitrary: record.map((r) => Buffer.from(serialize(r))) }, { weight: 2, arbitrary: jsonBody(record, ids) }, { weight: 1, arbitrary: fc.constantFrom('', ' ', '\r').map((s) => Buffer.from(s)) });
  return fc
    .tuple(fc.array(line, { minLength: 1, maxLength: 5 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
    .map(([lines, eol, last]) => Buffer.concat([...lines.flatMap((l) => [l, Buffer.from(eol)]).slice(0, last ? undefined : -1)]));
}

function encodeQueryValue(text: string): string {
  return text.includes('%') ? text : encodeURIComponent(text);
}

/** A header value fetch can send (no NUL, CR or LF; bytes only). */
const sendableHeader = (v: string) => !/[\0\r\n]/.test(v) && [...v].every((c) => c.charCodeAt(0) <= 0xff);

/**
 * Generated calls to `op`: most break one part (credentials, path, query, headers or body) of an
 * otherwise valid call, so that what is broken is what is judged; some break several at once.
 */
function callsTo(op: Operation, w: World): fc.Arbitrary<Call> {
  const ids = idsFor(w, op.path);
  const allIds = [...w.recordIds, w.robot.id, w.victim.id, w.requestId, w.batch.id, w.spareKeyId];
  const validParam = (p: Operation['parameters'][number]) => validValue(p.schema, p.name, ids).map((v) => (p.name === 'wait' ? '0' : String(v)));
  const hostileParam = (p: Operation['parameters'][number]) =>
    fc.oneof(
      { weight: 2, arbitrary: validParam(p) },
      { weight: 1, arbitrary: hostileText(allIds).map((t) => (p.name === 'wait' && /^\d+(\.\d+)?$|^P/.test(t) ? '0' : t)) },
    );
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const pathOf = (param: typeof validParam) =>
    fc.tuple(...pathParams.map((p) => (op.scheme === 'signedUrl' ? fc.constant('') : param(p)))).map((values) =>
      op.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeQueryValue(values[pathParams.findIndex((p) => p.name === name)])),
    );
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const queryOf = (param: typeof validParam, extras: string[]) =>
    fc
      .tuple(
        fc.tuple(...queryParams.map((p) => fc.option(param(p).map((v) => `${p.name}=${encodeQueryValue(v)}`), { freq: 2 }))),
        extras.length ? fc.option(fc.constantFrom(...extras), { freq: 3 }) : fc.constant(null),
      )
      .map(([params, extra]) => [...params, extra].filter((p) => p !== null).join('&'));
  const headerParams = op.parameters.filter((p) => p.in === 'header');
  const headersOf = (param: typeof validParam, extras: Array<[string, string]>) =>
    fc
      .tuple(
        fc.tuple(...headerParams.map((p) => fc.option(param(p).filter(sendableHeader).map((v) => [p.name, v] as const), { freq: 2 }))),
        extras.length ? fc.option(fc.constantFrom(...extras), { freq: 2 }) : fc.constant(null),
      )
      .map(([params, extra]) => Object.fromEntries([...params, extra].filter((h) => h !== null)) as Record<string, string>);
  const takesBody = ['POST', 'PUT', 'PATCH'].includes(op.method);
  type Body = { body?: Buffer; contentType?: string };
  let validBody: fc.Arbitrary<Body> = fc.constant({});
  let hostileBody: fc.Arbitrary<Body> = fc.constant({});
  if (takesBody && op.body) {
    const valid = validValue(op.body, '', ids);
    validBody = valid.map((v) => ({ body: Buffer.from(serialize(v)), contentType: 'application/json' }));
    const poisoned = fc
      .tuple(valid, fc.constantFrom('\u0000', '\ud800', '\udc00', 'a\u0000\udfff'), fc.nat())
      .map(([v, poison, at]) => ({ body: Buffer.from(serialize(mutate(v, { kind: 'poison', with: poison }, at))), contentType: 'application/json' }));
    const alternatives: Array<fc.Arbitrary<Body>> = [poisoned, fc.record({ body: jsonBody(valid, allIds), contentType: fc.oneof({ weight: 6, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom(...contentTypes) }) })];
    if (op.method === 'POST' && op.path === '/v1/records') {
      alternatives.push(fc.record({ body: jsonLinesBody(validValue(op.body.items!, '', ids), allIds), contentType: fc.constantFrom(...jsonLines, 'application/json') }));
    }
    hostileBody = fc.oneof(...alternatives.map((arbitrary) => ({ weight: 6, arbitrary })), { weight: 1, arbitrary: fc.constant({}) });
  } else if (takesBody) {
    hostileBody = jsonBody(fc.jsonValue({ maxDepth: 2 }), allIds).map((b) => ({ body: b, contentType: 'application/json' }));
  }
  const wrongCredentials: Credentials[] =
    op.scheme === 'apiKey' ? ['requester', 'none', 'unknown', 'malformed'] : op.scheme === 'robotSignature' ? ['none', 'wrongSecret', 'otherBody', 'stranger'] : op.scheme === 'signedUrl' ? ['unsigned'] : [];
  const valid = {
    path: pathOf(validParam),
    query: queryOf(validParam, []),
    headers: headersOf(validParam, []),
    body: validBody,
    // A robot signs in either scheme: RFC 9421, or DESTINY's.
    credentials: op.scheme === 'robotSignature' ? fc.constantFrom<Credentials>('valid', 'destiny') : fc.constant<Credentials>('valid'),
  };
  const hostile = {
    path: pathOf(hostileParam),
    query: queryOf(hostileParam, ['nope=1', 'limit=1&limit=2', '__proto__=x', 'limit', '&&', '=x']),
    headers: headersOf(hostileParam, [['x-request-id', 'x'.repeat(2000)], ['x-request-id', '\u00ff\u00fe'], ['content-encoding', 'gzip'], ['accept', 'text/html'], ['content-encoding', 'br, gzip'], ['x-forwarded-for', '::1, 10.0.0.1']]),
    body: hostileBody,
    credentials: wrongCredentials.length ? fc.constantFrom(...wrongCredentials) : valid.credentials,
  };
  type Part = keyof typeof valid;
  const parts = Object.keys(valid) as Part[];
  const pick = (broken: ReadonlySet<Part>) => fc.record(Object.fromEntries(parts.map((part) => [part, broken.has(part) ? hostile[part] : valid[part]])) as { [K in Part]: (typeof valid)[K] });
  return fc
    .oneof(
      { weight: 1, arbitrary: fc.constant(new Set<Part>()) },
      // One part broken, the body most often: it holds the most to break.
      ...parts.map((part) => ({ weight: part === 'body' && takesBody ? 4 : part === 'credentials' ? 2 : 1, arbitrary: fc.constant(new Set([part])) })),
      { weight: 2, arbitrary: fc.subarray(parts).map((chosen) => new Set(chosen)) },
    )
    .chain(pick)
    .map(({ path, query, headers, body, credentials }) => ({ path, query, headers, ...body, credentials }));
}

let destinyTick = 0;

/** The headers of `call`'s credentials, signed over exactly what is sent. */
function credentialHeaders(h: Harness, w: World, op: Operation, url: string, call: Call): Record<string, string> {
  const method = op.method;
  const body = call.body ?? Buffer.alloc(0);
  const sign = (keyId: string, secret: string, over: Buffer = body) => signRequest({ method, url, body: over, keyId, secret });
  const destinySigned = () => destiny.signDestinyRequest({ clientId: w.robot.id, secret: w.robot.secret, body, timestamp: Date.now() / 1000 + (++destinyTick % 1000) / 1e6 });
  switch (call.credentials) {
    case 'valid':
      if (op.scheme === 'robotSignature') return sign(w.robot.id, w.robot.secret);
      return op.scheme === 'apiKey' ? { authorization: `Bearer ${h.adminKey}` } : {};
    case 'requester':
      return { authorization: `Bearer ${w.requester}` };
    case 'unknown':
      return { authorization: 'Bearer rk_not-a-key-anyone-has' };
    case 'malformed':
      return { authorization: `Basic ${Buffer.from(`admin:${h.adminKey}`).toString('base64')}` };
    case 'destiny':
      return destinySigned();
    case 'wrongSecret':
      return sign(w.robot.id, 'rs_not-the-secret');
    case 'otherBody':
      return sign(w.robot.id, w.robot.secret, Buffer.from('{"lease_token":"x"}'));
    case 'stranger':
      return sign(randomUUID(), w.robot.secret);
    default:
      return {};
  }
}

async function send(h: Harness, w: World, op: Operation, call: Call): Promise<{ status: number; contentType: string; body: any }> {
  let path = call.path;
  let query = call.query;
  if (op.scheme === 'signedUrl') {
    // The blob routes: a URL Refinery handed out, its signature kept or taken away, the rest as generated.
    const handed = new URL(op.method === 'GET' ? w.batch.items_url : w.batch.results_url);
    path = handed.pathname;
    if (call.credentials === 'valid') query = [handed.search.slice(1), query].filter(Boolean).join('&');
  }
  const url = `${h.url}${path}${query ? `?${query}` : ''}`;
  const headers: Record<string, string> = { ...call.headers, ...credentialHeaders(h, w, op, url, call) };
  if (call.contentType) headers['content-type'] = call.contentType;
  const res = await fetch(url, { method: op.method, headers, body: call.body ? new Uint8Array(call.body) : undefined, signal: AbortSignal.timeout(20_000) });
  const contentType = res.headers.get('content-type') ?? '';
  if (contentType.startsWith('text/event-stream')) {
    await res.body?.cancel();
    return { status: res.status, contentType, body: null };
  }
  return { ...(await answer(res)), contentType };
}

/** Every row of every table but robot_nonces (each correctly signed call adds its nonce there: that is how replays are refused), in one statement. */
async function stateQuery(h: Harness): Promise<() => Promise<Record<string, string>>> {
  const db = h.refinery.ctx.db;
  const { rows } = await db.query<{ name: string }>(`select table_name::text as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name <> 'robot_nonces' order by 1`);
  assert.ok(rows.length >= 10, `${rows.length} tables`);
  const sql = `select ${rows.map(({ name }) => `(select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from "${name}" t) as "${name}"`).join(', ')}`;
  return async () => (await db.query<Record<string, string>>(sql)).rows[0];
}

/** The state once it has stayed the same for half a second. */
async function quietState(state: () => Promise<Record<string, string>>): Promise<Record<string, string>> {
  return eventually(async () => {
    const a = await state();
    await new Promise((r) => setTimeout(r, 500));
    const b = await state();
    return changedTables(a, b).length ? undefined : b;
  }, 15_000, 'the background to settle');
}

function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys(before).filter((t) => before[t] !== after[t]);
}

async function world(h: Harness): Promise<World> {
  const robot = await h.createRobot({ produces: [{ type: 'annotation', schema: { type: 'object', properties: { score: { type: 'number' } } } }] });
  const victim = await h.createRobot();
  const requester = (await h.api('POST', '/v1/api-keys', { body: { name: 'fuzz-requester', role: 'requester' } })).body.key as string;
  const spareKeyId = (await h.api('POST', '/v1/api-keys', { body: { name: 'fuzz-spare', role: 'requester' } })).body.id as string;
  const recordIds = await h.importRecords(references(3));
  const forRobot = await h.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
  assert.equal(forRobot.status, 202);
  const leased = await h.robotCall(robot, 'POST', '/v1/batches/lease?limit=1');
  assert.equal(leased.status, 200, JSON.stringify(leased.body));
  const forVictim = await h.api('POST', '/v1/requests', { body: { robot_id: victim.id, record_ids: recordIds } });
  assert.equal(forVictim.status, 202);
  return { robot, victim, requester, spareKeyId, recordIds, requestId: forVictim.body.id, batch: leased.body };
}

/** What is wrong with the answer to `call`, if anything. */
function faults(op: Operation, call: Call, res: { status: number; contentType: string; body: any }): string[] {
  const out: string[] = [];
  if (res.status >= 500) out.push(`answered ${res.status}`);
  if (res.status >= 400) {
    const error = res.body?.error;
    if (!res.contentType.startsWith('application/json') || typeof error?.code !== 'string' || !error.code || typeof error.message !== 'string' || !error.message) {
      out.push(`error not in the shape {"error":{"code","message"}}: ${res.status} ${res.contentType} ${JSON.stringify(res.body)?.slice(0, 300)}`);
    } else if (!isApiErrorCode(error.code)) out.push(`error code "${error.code}" is not one @refinery/protocol declares`);
  }
  // Refused before there is a route to know who may call it: no such route, or a path that is not valid percent-encoded UTF-8.
  const noRoute = (res.status === 404 && /^no route/.test(res.body?.error?.message ?? '')) || (res.status === 400 && / is not a valid url component$/.test(res.body?.error?.message ?? ''));
  if (refusedCredentials.has(call.credentials) && !noRoute) {
    const expected = op.scheme === 'signedUrl' ? [403] : [401];
    if (!expected.includes(res.status)) out.push(`without valid credentials (${call.credentials}): ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`);
  }
  if (res.status < 400 && op.body && call.body) {
    let sent: unknown;
    try {
      sent = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(call.body));
    } catch {
      // not one JSON value: JSON Lines, or broken
    }
    const unstorable = sent === undefined ? null : whyUnstorable(sent);
    if (unstorable) out.push(`took a body whose ${unstorable.path || 'value'} ${unstorable.problem}: ${res.status}`);
  }
  if (call.credentials === 'requester' && op.adminOnly && !noRoute && res.status !== 403) out.push(`a requester key on an admin route: ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`);
  return out;
}

function describeCall(op: Operation, call: Call): string {
  const body = call.body ? JSON.stringify(call.body.toString('latin1').slice(0, 400)) : '(none)';
  return `${op.method} ${call.path}${call.query ? `?${call.query}` : ''} [${call.credentials}] headers ${JSON.stringify(call.headers).slice(0, 200)} content-type ${JSON.stringify(call.contentType)} body ${body}`;
}

describeEachBackend('hostile input, generated from the routes’ schemas', (h) => {
  it('answers every generated call to every route without a 5xx, in the error shape, authentication first, and a refused call changes nothing', async () => {
    const w = await world(h());
    const state = await stateQuery(h());
    const all = await operations(h());
    assert.ok(all.length >= 40, `${all.length} routes`);
    const ops = all.filter((op) => !onlyRoute || `${op.method} ${op.path}`.includes(onlyRoute));
    let calls = 0;
    const statuses = new Map<string, Map<number, number>>();
    const count = (op: Operation, status: number) => {
      const seen = statuses.get(`${op.method} ${op.path}`) ?? new Map<number, number>();
      statuses.set(`${op.method} ${op.path}`, seen.set(status, (seen.get(status) ?? 0) + 1));
    };
    for (const op of ops) {
      const index = all.indexOf(op);
      let before = await state();
      await fc.assert(
        fc.asyncProperty(callsTo(op, w), async (call) => {
          calls++;
          const res = await send(h(), w, op, call);
          count(op, res.status);
          const found = faults(op, call, res);
          if (res.status >= 400) {
            let changed = changedTables(before, await state());
            if (changed.length) {
              // The background (a progress event, a webhook, a push) may have written meanwhile:
              // once it is quiet, the same call is sent again, and if refused again must change nothing.
              const quiet = await quietState(state);
              const again = await send(h(), w, op, call);
              changed = again.status >= 400 ? changedTables(quiet, await state()) : [];
            }
            if (changed.length) found.push(`refused with ${res.status} ${JSON.stringify(res.body)?.slice(0, 200)} but changed ${changed.join(', ')}`);
          }
          before = await state();
          assert.deepEqual(found, [], describeCall(op, call));
        }),
        { seed: seed + index, numRuns: runs ?? defaultRuns[h().backend], endOnFailure: !!process.env.FUZZ_NO_SHRINK },
      ).catch((err: Error) => {
        const cause = err.cause instanceof Error ? `\n${err.cause.message}` : '';
        throw new Error(`${op.method} ${op.path} (FUZZ_SEED=${seed} FUZZ_ROUTE='${op.method} ${op.path}'):\n${err.message}${cause}`);
      });
    }
    console.log(`# ${calls} generated calls to ${ops.length} routes on ${h().backend}`);
    if (process.env.FUZZ_VERBOSE) for (const [route, seen] of statuses) console.log(`#   ${route}: ${[...seen].sort().map(([s, n]) => `${s}×${n}`).join(' ')}`);
  });

  /**
   * A robot's side of a results file, Refinery's or DESTINY's: a batch of 1–3 fresh records
   * leased, a line's valid value and how an upload is handed in.
   */
  interface Flavour {
    lease(records: number): Promise<{ id: string; resultsUrl: string; recordIds: string[] }>;
    valid: fc.Arbitrary<Record<string, unknown>>;
    idField: string;
    handIn(batchId: string): Promise<{ status: number; body: any }>;
    statusOf(batchId: string): Promise<{ status: number; body: any }>;
  }

  async function refineryFlavour(): Promise<Flavour> {
    const robot = await h().createRobot({ produces: [{ type: 'annotation', schema: { type: 'object', properties: { score: { type: 'number' } } } }], max_batch_size: 3 });
    const tokens = new Map<string, string>();
    return {
      async lease(records) {
        const recordIds = await h().importRecords(references(records));
        assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } })).status, 202);
        const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease?limit=3');
        assert.equal(leased.status, 200, JSON.stringify(leased.body));
        tokens.set(leased.body.id, leased.body.lease_token);
        const items = (await (await fetch(leased.body.items_url)).text()).split('\n').filter(Boolean);
        return { id: leased.body.id, resultsUrl: leased.body.results_url, recordIds: items.map((l) => JSON.parse(l).record_id as string) };
      },
      valid: fc.oneof(
        { weight: 3, arbitrary: fc.record({ type: fc.constant('annotation'), content: fc.record({ score: fc.double({ noNaN: true, noDefaultInfinity: true }) }), robot_version: fc.option(fc.string(), { nil: undefined }) }, { requiredKeys: ['type', 'content'] }) },
        { weight: 1, arbitrary: fc.record({ error: fc.record({ message: fc.string({ minLength: 1 }), retryable: fc.boolean() }) }) },
      ),
      idField: 'record_id',
      handIn: (id) => h().robotCall(robot, 'POST', `/v1/batches/${id}/results`, { lease_token: tokens.get(id) }),
      statusOf: (id) => h().robotCall(robot, 'GET', `/v1/batches/${id}`),
    };
  }

  async function destinyFlavour(): Promise<Flavour> {
    const robot = await registerDestinyRobot(h());
    return {
      async lease(records) {
        const recordIds = await h().importRecords(references(records));
        assert.equal((await h().api('POST', '/v1/enhancement-requests/', { body: { robot_id: robot.id, reference_ids: recordIds } })).status, 202);
        const batch = (await poll(h(), robot, 3))!;
        return { id: batch.id, resultsUrl: batch.result_storage_url, recordIds: (await referencesOf(batch)).map((r) => r.id) };
      },
      valid: fc.oneof(
        {
          weight: 3,
          arbitrary: fc.record({
            source: fc.string({ minLength: 1 }),
            visibility: fc.constantFrom('public', 'restricted', 'hidden'),
            content: fc.record({ enhancement_type: fc.constant('annotation'), annotations: fc.array(fc.record({ annotation_type: fc.constant('score'), scheme: fc.string(), label: fc.string(), score: fc.double({ noNaN: true, noDefaultInfinity: true }) }), { minLength: 1, maxLength: 2 }) }),
          }),
        },
        { weight: 1, arbitrary: fc.record({ message: fc.string({ minLength: 1 }) }) },
      ),
      idField: 'reference_id',
      handIn: (id) => destinyCall(h(), robot, 'POST', `/v1/robot-enhancement-batches/${id}/results/`, { request_id: id }),
      statusOf: (id) => h().robotCall({ id: robot.id, secret: robot.client_secret }, 'GET', `/v1/batches/${id}`),
    };
  }

  for (const [name, flavour] of [['Refinery', refineryFlavour], ['DESTINY', destinyFlavour]] as const) {
    it(`imports generated ${name} results files of valid, broken and hostile lines without a 5xx, and each batch finishes`, async () => {
      const robot = await flavour();
      const someIds = [randomUUID()];
      /** A line, for the record at `record` of the batch (modulo its size) or for one not in it. */
      const line = fc.record({
        record: fc.oneof({ weight: 5, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.constantFrom('stranger', 'none') }),
        value: robot.valid,
        mutations: fc.oneof({ weight: 1, arbitrary: fc.constant<Array<[Mutation, number]>>([]) }, { weight: 2, arbitrary: fc.array(fc.tuple(mutation(someIds), fc.nat()), { minLength: 1, maxLength: 2 }) }),
        damage: fc.option(textDamage(), { freq: 5 }),
        blank: fc.option(fc.constantFrom('', ' ', '\r'), { freq: 8 }),
      });
      const file = fc.record({ records: fc.integer({ min: 1, max: 3 }), lines: fc.array(line, { maxLength: 6 }), eol: fc.constantFrom('\n', '\r\n') });
      let completed = 0;
      await fc.assert(
        fc.asyncProperty(file, async ({ records, lines, eol }) => {
          const batch = await robot.lease(records);
          const text = Buffer.concat(
            lines.flatMap(({ record, value, mutations, damage, blank }) => {
              if (blank !== null) return [Buffer.from(blank + eol)];
              const id = record === 'stranger' ? randomUUID() : record === 'none' ? undefined : batch.recordIds[record % batch.recordIds.length];
              const mutated = mutations.reduce((v, [m, at]: [Mutation, number]) => mutate(v, m, at), { [robot.idField]: id, ...value } as unknown);
              const json = Buffer.from(serialize(mutated));
              return [damage ? damage(json) : json, Buffer.from(eol)];
            }),
          );
          const what = `${JSON.stringify(text.toString('latin1').slice(0, 500))}`;
          const put = await answer(await fetch(batch.resultsUrl, { method: 'PUT', headers: { 'content-type': 'application/x-ndjson' }, body: new Uint8Array(text) }));
          assert.equal(put.status, 200, `PUT ${what}: ${JSON.stringify(put.body)}`);
          const handIn = await robot.handIn(batch.id);
          assert.equal(handIn.status, 202, `hand-in of ${what}: ${JSON.stringify(handIn.body)}`);
          const finished = await eventually(
            async () => {
              const res = await robot.statusOf(batch.id);
              assert.ok(res.status < 500, JSON.stringify(res.body));
              return ['importing', 'leased'].includes(res.body.status) ? undefined : (res.body.status as string);
            },
            30_000,
            `batch ${batch.id} to finish its import of ${what}`,
          );
          if (finished === 'completed') completed++;
        }),
        { seed, numRuns: Math.ceil((runs ?? defaultRuns[h().backend]) / 2), endOnFailure: !!process.env.FUZZ_NO_SHRINK },
      ).catch((err: Error) => {
        const cause = err.cause instanceof Error ? `\n${err.cause.message}` : '';
        throw new Error(`${name} results files (FUZZ_SEED=${seed}):\n${err.message}${cause}`);
      });
      console.log(`# ${completed} of the generated ${name} results files completed their batch on ${h().backend}`);
    });
  }
  it('answers generated broken HTTP (request lines, headers, chunked bodies) in the error shape, never a 5xx, and closes the connection', async () => {
    const token = fc.constantFrom('GET', 'POST', 'PUT', 'G ET', 'BREW', '', 'GET\u0000');
    const target = fc.constantFrom('/v1/robots', '/v1/records', '/%', '/v1/robots/%zz', '*', 'http://x/v1/robots', '/v1/robots?limit=%', `/${'a'.repeat(9000)}`, '/v1/records/\u00ff');
    const version = fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', '', 'HTTP/9');
    const header = fc.constantFrom(
      `Authorization: Bearer ${h().adminKey}`,
      'Content-Type: application/json',
      'Content-Type: application/x-ndjson',
      `X-Big: ${'a'.repeat(20_000)}`,
      'Bad Header: x',
      ':',
      'X-Nul: a\u0000b',
      'Content-Length: -1',
      'Content-Length: 1, 2',
      'Content-Length: 99999999999999999999',
      'Content-Length: 2\r\nContent-Length: 3',
      'Transfer-Encoding: gzip, chunked',
      'Transfer-Encoding: chunked\r\nContent-Length: 2',
      'Expect: 100-continue',
      'Host: a\r\nHost: b',
    );
    const body = fc.constantFrom('', '{}', '[]', 'zz\r\n{}\r\n0\r\n\r\n', '2\r\n{}\r\n0\r\n\r\n', '2\r\n{}0\r\n\r\n', '-1\r\n\r\n', 'ffffffffffffffff\r\nx\r\n', '\u0000\u0001\u0002');
    const request = fc.record({ token, target, version, headers: fc.uniqueArray(header, { maxLength: 3 }), body, chunked: fc.boolean() });
    const refused = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async ({ token, target, version, headers, body, chunked }) => {
        const lines = [`${token} ${target} ${version}`.trim(), 'Host: 127.0.0.1', 'Connection: close', ...headers];
        // A length the body has, so that the server never waits for bytes that do not come.
        if (chunked) lines.push('Transfer-Encoding: chunked');
        else if (!headers.some((l) => /content-length|transfer-encoding/i.test(l))) lines.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
        const bytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
        const res = await Promise.race([exchange(h().url, bytes), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer, or the connection stayed open, after 10 s')), 10_000))]);
        const what = JSON.stringify(bytes.toString('latin1').slice(0, 300));
        if (!res.raw) return; // closed without a word: a connection the server cannot talk to
        assert.ok(res.status > 0 && res.status < 500, `${what}: ${res.raw.slice(0, 300)}`);
        if (res.status >= 400) {
          refused.set(res.status, (refused.get(res.status) ?? 0) + 1);
          assert.ok(typeof res.body?.error?.code === 'string' && typeof res.body.error.message === 'string', `${what}: not in the error shape: ${res.raw.slice(0, 300)}`);
          assert.ok(isApiErrorCode(res.body.error.code), `${what}: error code "${res.body.error.code}" is not declared`);
        }
      }),
      { seed, numRuns: (runs ?? defaultRuns[h().backend]) * 4, endOnFailure: !!process.env.FUZZ_NO_SHRINK },
    ).catch((err: Error) => {
      const cause = err.cause instanceof Error ? `\n${err.cause.message}` : '';
      throw new Error(`broken HTTP (FUZZ_SEED=${seed}):\n${err.message}${cause}`);
    });
    assert.ok(refused.size > 0, 'some of it was answered with an error');
    console.log(`# broken HTTP on ${h().backend}, refused: ${[...refused].sort().map(([status, n]) => `${status}×${n}`).join(' ')}`);
  });
});
