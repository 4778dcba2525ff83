import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { it } from 'node:test';
import { contentDigest, destiny, signRequest } from '@refinery/protocol';
import { FileBlobStore } from '../src/blobs/fileStore.ts';
import { Keyring } from '../src/keys/keyring.ts';
import { describeEachBackend, references } from './support/harness.ts';
import { advance } from './support/lifecycle.ts';
import { registerDestinyRobot } from './support/destiny.ts';
import { requesterKey } from './support/requestEvents.ts';
import { answer } from './support/routes.ts';

// Hostile callers, one table: every attack on a robot's signature in both schemes (RFC 9421 and
// DESTINY's `Authorization: Signature`) on every robot route, a robot on another robot's batch,
// signed blob URLs expired or altered, and a requester on another requester's requests. Each is
// refused with its status and the error shape, and changes nothing: no row of any table but the
// nonces, and no blob. A replay first sends its original, whose signature must be taken (the
// handler may refuse it: a results post with a wrong lease token changes nothing).

type Scheme = 'rfc9421' | 'destiny';
type Signer = { id: string; secret: string };
type Answer = { status: number; body: any };

/** A robot call as it is sent: `body` is the raw JSON text ('' for none). */
interface Call {
  method: string;
  path: string;
  body: string;
}

interface Attack {
  name: string;
  /** Sent first, and must be answered `primeStatus`: the original of a replay. */
  prime?: () => Promise<Answer>;
  primeStatus?: number;
  send: () => Promise<Answer>;
  status: number;
  /** The error's code; none for an answer that is no error (a 204 lease). */
  code?: string;
  message?: RegExp;
  /** A further check of the answer (what a list leaves out). */
  check?: (res: Answer) => void;
}

/** A robot route of one family, for a batch of `owner`'s. */
interface Route {
  name: string;
  /** The call as `owner` makes it for `batchId`. */
  call(batchId: string, owner: Signer): Call;
  /** The same call in a form the handler refuses with `primeStatus`, changing nothing (a wrong lease token), for a replay's original; the call itself when it may succeed. */
  harmless?(batchId: string, owner: Signer): Call;
  primeStatus: number;
  /** The answer to another robot making the call for `owner`'s batch. */
  otherRobot: { status: number; code?: string };
}

const failure = (message: string) => ({ message, retryable: false });

const nativeRoutes: Route[] = [
  { name: 'POST /v1/batches/lease', call: () => ({ method: 'POST', path: '/v1/batches/lease?limit=1', body: '' }), primeStatus: 200, otherRobot: { status: 204 } },
  { name: 'GET /v1/batches/{id}', call: (id) => ({ method: 'GET', path: `/v1/batches/${id}`, body: '' }), primeStatus: 200, otherRobot: { status: 404, code: 'not_found' } },
  {
    name: 'POST /v1/batches/{id}/renew',
    call: (id) => ({ method: 'POST', path: `/v1/batches/${id}/renew?lease=PT1H`, body: '' }),
    primeStatus: 200,
    otherRobot: { status: 404, code: 'not_found' },
  },
  {
    name: 'POST /v1/batches/{id}/results',
    call: (id) => ({ method: 'POST', path: `/v1/batches/${id}/results`, body: JSON.stringify({ lease_token: tokens.get(id), error: failure('hostile') }) }),
    harmless: (id) => ({ method: 'POST', path: `/v1/batches/${id}/results`, body: JSON.stringify({ lease_token: 'not-the-token', error: failure('hostile') }) }),
    primeStatus: 409,
    otherRobot: { status: 404, code: 'not_found' },
  },
];

const destinyResult = (id: string, requestId = id) => JSON.stringify({ request_id: requestId, error: { message: 'hostile' } });
const destinyRoutes: Route[] = [
  {
    name: 'POST /v1/robot-enhancement-batches/',
    call: (_id, owner) => ({ method: 'POST', path: `/v1/robot-enhancement-batches/?robot_id=${owner.id}&limit=1&lease=PT2H`, body: '' }),
    primeStatus: 200,
    otherRobot: { status: 403, code: 'forbidden' },
  },
  {
    name: 'GET /v1/robot-enhancement-batches/{id}/',
    call: (id) => ({ method: 'GET', path: `/v1/robot-enhancement-batches/${id}/`, body: '' }),
    primeStatus: 200,
    otherRobot: { status: 404, code: 'not_found' },
  },
  {
    name: 'PATCH /v1/robot-enhancement-batches/{id}/renew-lease/',
    call: (id) => ({ method: 'PATCH', path: `/v1/robot-enhancement-batches/${id}/renew-lease/?lease=PT1H`, body: '' }),
    primeStatus: 200,
    // DESTINY answers a renewal of a batch it does not know with 422.
    otherRobot: { status: 422, code: 'not_found' },
  },
  ...['/v1/robot-enhancement-batches/{id}/results/', '/v1/enhancement-requests/{id}/result/', '/v1/enhancement-requests/{id}/results/'].map(
    (template): Route => ({
      name: `POST ${template}`,
      call: (id) => ({ method: 'POST', path: template.replace('{id}', id), body: destinyResult(id) }),
      // request_id of another batch: DESTINY's 400 "Request ID mismatch".
      harmless: (id) => ({ method: 'POST', path: template.replace('{id}', id), body: destinyResult(id, randomUUID()) }),
      primeStatus: 400,
      otherRobot: { status: 404, code: 'not_found' },
    }),
  ),
];

/** Lease tokens by batch id, for the results calls. */
const tokens = new Map<string, string>();

/** The path with `lease=PT24H` set in its query: a longer lease than the robot signed for. */
function otherQuery(path: string): string {
  const url = new URL(path, 'http://x');
  url.searchParams.set('lease', 'PT24H');
  return url.pathname + url.search;
}

/** A method the call was not made with. */
const otherMethod = (method: string) => (method === 'GET' ? 'POST' : method === 'POST' ? 'PUT' : 'POST');

/** The signature with one character changed. */
function changedSignature(headers: Record<string, string>, name: 'signature' | 'authorization'): Record<string, string> {
  const value = headers[name];
  const at = value.length - 5;
  return { ...headers, [name]: value.slice(0, at) + (value[at] === 'a' ? 'b' : 'a') + value.slice(at + 1) };
}

describeEachBackend(
  'hostile callers',
  (h) => {
    let micros = 0;
    const nowSeconds = () => h().clock.now().getTime() / 1000;

    /** The headers `signer` signs `call` with in `scheme`, at `at` (now by default), as `keyId` (its own id by default). */
    function sign(scheme: Scheme, signer: Signer, call: Call, options: { at?: number; keyId?: string; url?: string } = {}): Record<string, string> {
      const at = options.at ?? nowSeconds();
      const keyId = options.keyId ?? signer.id;
      if (scheme === 'rfc9421') return signRequest({ method: call.method, url: options.url ?? h().url + call.path, body: call.body, keyId, secret: signer.secret, created: Math.floor(at) });
      // As time.time() moves between two calls: each signature its own.
      return destiny.signDestinyRequest({ clientId: keyId, secret: signer.secret, body: call.body, timestamp: at + ++micros / 1e6 });
    }

    async function send(call: Call, headers: Record<string, string>): Promise<Answer> {
      const all = { ...headers };
      if (call.body) all['content-type'] = 'application/json';
      return answer(await fetch(h().url + call.path, { method: call.method, headers: all, body: call.body || undefined }));
    }

    const signedCall = (scheme: Scheme, signer: Signer, call: Call) => send(call, sign(scheme, signer, call));

    /** Every row of every table but the nonces (which a call accepted adds to), and every batch's files. */
    let everyRow: string | null = null;
    async function state(): Promise<unknown> {
      const db = h().refinery.ctx.db;
      if (!everyRow) {
        const { rows: tables } = await db.query<{ name: string }>(
          `select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name <> 'robot_nonces'`,
        );
        everyRow = tables.map((t) => `select '${t.name}' as t, x::text as r from ${t.name} x`).join(' union all ') + ' order by 1, 2';
      }
      const { rows } = await db.query<{ t: string; r: string }>(everyRow);
      const { rows: batches } = await db.query<{ items_key: string; results_key: string }>(`select items_key, results_key from batches order by id`);
      const blobs: Record<string, string | null> = {};
      for (const key of batches.flatMap((b) => [b.items_key, b.results_key])) {
        const body = await h().refinery.ctx.blobs.get(key);
        blobs[key] = body ? await text(body) : null;
      }
      return { rows: rows.map((r) => `${r.t}: ${r.r}`), blobs };
    }

    it('refuses every hostile call with its status and error, and changes nothing', async (t) => {
      // ── Two robots of each protocol, each with a batch leased for two hours; A with work pending ──
      const r1 = await requesterKey(h());
      const r2 = await requesterKey(h());
      const nA = await h().createRobot({ max_batch_size: 2, lease: 'PT2H' });
      const nB = await h().createRobot({ max_batch_size: 2, lease: 'PT2H' });
      const dA = await registerDestinyRobot(h());
      const dB = await registerDestinyRobot(h());
      const asSigner = (r: { id: string; secret?: string; client_secret?: string }): Signer => ({ id: r.id, secret: (r.secret ?? r.client_secret)! });
      const [nativeA, nativeB, destinyA, destinyB] = [nA, nB, dA, dB].map(asSigner);

      const q1 = await h().api('POST', '/v1/requests', { key: r1, body: { robot_id: nA.id, record_ids: await h().importRecords(references(10)) } });
      assert.equal(q1.status, 202, JSON.stringify(q1.body));
      assert.equal((await h().api('POST', '/v1/requests', { key: r1, body: { robot_id: nB.id, record_ids: await h().importRecords(references(1)) } })).status, 202);
      const qd = await h().api('POST', '/v1/enhancement-requests/', { key: r1, body: { robot_id: dA.id, reference_ids: await h().importRecords(references(10)) } });
      assert.equal(qd.status, 202, JSON.stringify(qd.body));
      assert.equal((await h().api('POST', '/v1/enhancement-requests/', { key: r1, body: { robot_id: dB.id, reference_ids: await h().importRecords(references(1)) } })).status, 202);

      const lease = async (robot: Signer) => {
        const res = await signedCall('rfc9421', robot, { method: 'POST', path: '/v1/batches/lease?limit=2', body: '' });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        tokens.set(res.body.id, res.body.lease_token);
        return res.body as { id: string; items_url: string; results_url: string };
      };
      const poll = async (robot: Signer) => {
        const res = await signedCall('destiny', robot, { method: 'POST', path: `/v1/robot-enhancement-batches/?robot_id=${robot.id}&limit=2&lease=PT2H`, body: '' });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return { id: res.body.id as string, items_url: res.body.reference_storage_url as string, results_url: res.body.result_storage_url as string };
      };
      const nBatch = await lease(nativeA);
      const nBatchB = await lease(nativeB);
      const dBatch = await poll(destinyA);
      const dBatchB = await poll(destinyB);
      // A batch's URLs last its lease and 5 minutes, an hour at least: robots of the default lease
      // (10 minutes) whose batches' URLs are used past the hour.
      const nE = asSigner(await h().createRobot());
      const dE = asSigner(await registerDestinyRobot(h()));
      assert.equal((await h().api('POST', '/v1/requests', { key: r1, body: { robot_id: nE.id, record_ids: await h().importRecords(references(1)) } })).status, 202);
      assert.equal((await h().api('POST', '/v1/enhancement-requests/', { key: r1, body: { robot_id: dE.id, reference_ids: await h().importRecords(references(1)) } })).status, 202);
      const nExpired = await lease(nE);
      const dExpiredPoll = await signedCall('destiny', dE, { method: 'POST', path: `/v1/robot-enhancement-batches/?robot_id=${dE.id}`, body: '' });
      assert.equal(dExpiredPoll.status, 200);
      const dExpired = { items_url: dExpiredPoll.body.reference_storage_url as string, results_url: dExpiredPoll.body.result_storage_url as string };

      // A finished request of r1's with a failed item, which r1 could retry.
      const nC = asSigner(await h().createRobot());
      const qf = await h().api('POST', '/v1/requests', { key: r1, body: { robot_id: nC.id, record_ids: await h().importRecords(references(1)) } });
      const cBatch = await lease(nC);
      const failed = await signedCall('rfc9421', nC, { method: 'POST', path: `/v1/batches/${cBatch.id}/results`, body: JSON.stringify({ lease_token: tokens.get(cBatch.id), error: failure('gave up') }) });
      assert.equal(failed.status, 202);
      await h().refinery.background.drain();
      assert.equal((await h().api('GET', `/v1/requests/${qf.body.id}`, { key: r1 })).body.status, 'failed');

      // Past the hour; the robots leased for two hours are given fresh URLs.
      advance(h(), 3601_000);
      const fresh = async (scheme: Scheme, robot: Signer, path: string) => {
        const res = await signedCall(scheme, robot, { method: 'GET', path, body: '' });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return { items_url: (res.body.items_url ?? res.body.reference_storage_url) as string, results_url: (res.body.results_url ?? res.body.result_storage_url) as string };
      };
      const nowA = await fresh('rfc9421', nativeA, `/v1/batches/${nBatch.id}`);
      const nowB = await fresh('rfc9421', nativeB, `/v1/batches/${nBatchB.id}`);
      const nowDA = await fresh('destiny', destinyA, `/v1/robot-enhancement-batches/${dBatch.id}/`);
      const nowDB = await fresh('destiny', destinyB, `/v1/robot-enhancement-batches/${dBatchB.id}/`);

      const attacks: Attack[] = [];
      const badSignature = (message: RegExp) => ({ status: 401, code: 'bad_signature', message });

      // ── Robots: every signature attack, in both schemes, on every robot route ──
      for (const [family, routes, owner, other, batchId, otherBatchId] of [
        ['native', nativeRoutes, nativeA, nativeB, nBatch.id, nBatchB.id],
        ['DESTINY', destinyRoutes, destinyA, destinyB, dBatch.id, dBatchB.id],
      ] as const) {
        for (const route of routes) {
          const call = route.call(batchId, owner);
          const harmless = route.harmless?.(batchId, owner) ?? call;
          const at = (what: string) => `${family} ${route.name}: ${what}`;
          const hasBody = call.body !== '';
          // A call with no body signed, sent with one: a GET has none to send.
          const sentBody = call.method === 'GET' ? null : { ...call, body: hasBody ? call.body.replace('hostile', 'forged') : '{}' };
          // Another call of the family's with no body (its GET, or for the GET its renewal), whose captured signature is sent with this one.
          const sourceRoute = call.method === 'GET' ? routes[2] : routes[1];
          const source = sourceRoute.call(batchId, owner);

          attacks.push(
            { name: at('unsigned'), send: () => send(call, {}), ...badSignature(/missing/) },
            { name: at("a requester's Bearer key"), send: () => send(call, { authorization: `Bearer ${r1}` }), ...badSignature(/missing|not supported/) },
          );

          for (const scheme of ['rfc9421', 'destiny'] as const) {
            const as = (what: string) => at(`${scheme === 'rfc9421' ? 'RFC 9421' : 'DESTINY signature'}, ${what}`);
            const replay = (
              what: string,
              original: Call,
              sent: Call,
              message: RegExp,
              options: { primeStatus?: number; alter?: (headers: Record<string, string>) => Record<string, string> } = {},
            ): Attack => {
              let headers: Record<string, string>;
              return {
                name: as(what),
                prime: async () => {
                  headers = sign(scheme, owner, original);
                  const res = await send(original, headers);
                  advance(h(), 1000); // a replay accepted would move what the original set (a lease's expiry)
                  return res;
                },
                primeStatus: options.primeStatus ?? route.primeStatus,
                send: () => send(sent, options.alter?.(headers) ?? headers),
                ...badSignature(message),
              };
            };
            /** On a GET (which changes nothing when taken): the same signed request twice at once, of which one is taken. */
            const twiceAtOnce = (message: RegExp): Attack[] =>
              call.method !== 'GET'
                ? []
                : [
                    {
                      name: as('the same request twice at once'),
                      send: async () => {
                        const headers = sign(scheme, owner, call);
                        const both = await Promise.all([send(call, headers), send(call, headers)]);
                        assert.deepEqual(both.map((r) => r.status).sort(), [200, 401], JSON.stringify(both));
                        return both.find((r) => r.status === 401)!;
                      },
                      ...badSignature(message),
                    },
                  ];
            // Another batch's path (the lease's, which has none: the batch's renewal).
            const otherPath = call.path.includes(batchId) ? call.path.replace(batchId, otherBatchId) : routes[2].call(batchId, owner).path;
            // Taken when sent: the replays move the clock.
            const stale = () => ({ at: nowSeconds() - 301 });
            const ahead = () => ({ at: nowSeconds() + 301 });
            if (scheme === 'rfc9421') {
              attacks.push(
                replay('the same request again (replayed nonce)', harmless, harmless, /nonce was used before \(replay\)/),
                { name: as('created 301 s ago'), send: () => send(call, sign(scheme, owner, call, stale())), ...badSignature(/created.*300 s/) },
                { name: as('created 301 s ahead'), send: () => send(call, sign(scheme, owner, call, ahead())), ...badSignature(/created.*300 s/) },
                { name: as('another query than signed'), send: () => send({ ...call, path: otherQuery(call.path) }, sign(scheme, owner, call)), ...badSignature(/signature does not match/) },
                { name: as('another method than signed'), send: () => send(call, sign(scheme, owner, { ...call, method: otherMethod(call.method) })), ...badSignature(/signature does not match/) },
                { name: as('another path than signed'), send: () => send(call, sign(scheme, owner, { ...call, path: otherPath })), ...badSignature(/signature does not match/) },
                { name: as('another host than signed'), send: () => send(call, sign(scheme, owner, call, { url: h().url.replace('127.0.0.1', 'localhost') + call.path })), ...badSignature(/signature does not match/) },
                { name: as("another robot's keyid"), send: () => send(call, sign(scheme, other, call, { keyId: owner.id })), ...badSignature(/signature does not match/) },
                { name: as('the signature changed'), send: () => send(call, changedSignature(sign(scheme, owner, call), 'signature')), ...badSignature(/signature does not match/) },
              );
              if (sentBody) {
                attacks.push(
                  { name: as('another body under the signed digest'), send: () => send(sentBody, sign(scheme, owner, call)), ...badSignature(/content-digest does not match the body/) },
                  {
                    name: as("another body with its digest, under the first body's signature"),
                    send: () => send(sentBody, { ...sign(scheme, owner, call), 'content-digest': contentDigest(sentBody.body) }),
                    ...badSignature(/signature does not match/),
                  },
                );
              }
              if (hasBody) attacks.push({ name: as('no body where one was signed'), send: () => send({ ...call, body: '' }, sign(scheme, owner, call)), ...badSignature(/content-digest does not match the body/) });
              attacks.push(...twiceAtOnce(/nonce was used before \(replay\)/));
            } else {
              // DESTINY's signature covers the body, the client id and the timestamp, not the method
              // or the URL (destiny_sdk): a signature is taken once, so a captured one sent again,
              // whatever was changed around it, is refused as a replay.
              attacks.push(
                replay('the same request again (replayed signature)', harmless, harmless, /used before \(a replay\)/),
                replay('a used signature sent with another query', harmless, { ...harmless, path: otherQuery(harmless.path) }, /used before \(a replay\)/),
                replay('a used signature sent with another method and path', source, { ...call, body: source.body }, /used before \(a replay\)/, { primeStatus: sourceRoute.primeStatus }),
                // The same number, written otherwise: the signature holds, and was taken.
                replay('a used signature sent with its timestamp written otherwise', harmless, harmless, /used before \(a replay\)/, {
                  alter: (headers) => ({ ...headers, 'x-request-timestamp': `${headers['x-request-timestamp']}0` }),
                }),
                replay('a used signature sent with the client id in capitals', harmless, harmless, /used before \(a replay\)/, {
                  alter: (headers) => ({ ...headers, 'x-client-id': headers['x-client-id'].toUpperCase() }),
                }),
                ...twiceAtOnce(/used before \(a replay\)/),
                { name: as('a timestamp 301 s old'), send: () => send(call, sign(scheme, owner, call, stale())), ...badSignature(/^Token is expired/) },
                { name: as('a timestamp 301 s ahead'), send: () => send(call, sign(scheme, owner, call, ahead())), ...badSignature(/ahead of the server's clock/) },
                {
                  name: as('the timestamp changed after signing'),
                  send: () => send(call, { ...sign(scheme, owner, call), 'x-request-timestamp': destiny.pythonFloatRepr(nowSeconds() + 1) }),
                  ...badSignature(/^Signature is invalid/),
                },
                { name: as("another robot's client id"), send: () => send(call, sign(scheme, other, call, { keyId: owner.id })), ...badSignature(/^Signature is invalid/) },
                { name: as('the signature changed'), send: () => send(call, changedSignature(sign(scheme, owner, call), 'authorization')), ...badSignature(/^Signature is invalid/) },
              );
              if (sentBody) attacks.push({ name: as('another body than signed'), send: () => send(sentBody, sign(scheme, owner, call)), ...badSignature(/^Signature is invalid/) });
              if (hasBody) attacks.push({ name: as('no body where one was signed'), send: () => send({ ...call, body: '' }, sign(scheme, owner, call)), ...badSignature(/^Signature is invalid/) });
            }
            // Signed rightly, by another robot: its batch is as good as missing.
            attacks.push({ name: as("another robot's batch, signed by that robot"), send: () => signedCall(scheme, other, call), ...route.otherRobot });
          }
        }
      }

      // ── Signed blob URLs: expired, or altered ──
      const forger = new FileBlobStore('/nonexistent', () => h().url, 'not-the-signing-key', new Keyring(new Map([['forger', randomBytes(32)]]), 'forger'), () => Math.floor(nowSeconds()));
      const keyOf = (url: string) => decodeURIComponent(new URL(url).pathname.replace(/^\/v1\/blobs\//, ''));
      /** `url`'s signature on `to`'s blob. */
      const moved = (url: string, to: string) => {
        const u = new URL(url);
        u.pathname = new URL(to).pathname;
        return u.toString();
      };
      const withQuery = (url: string, change: (q: URLSearchParams) => void) => {
        const u = new URL(url);
        change(u.searchParams);
        return u.toString();
      };
      const blob = (url: string, method: 'GET' | 'PUT') => async () =>
        answer(await fetch(url, method === 'PUT' ? { method, body: '{"record_id":"forged"}\n', headers: { 'content-type': 'application/x-ndjson' } } : { method }));
      const refused = (message: RegExp) => ({ status: 403, code: 'forbidden', message });
      for (const [family, then, now, others] of [
        ['native', nExpired, nowA, nowB],
        ['DESTINY', dExpired, nowDA, nowDB],
      ] as const) {
        const at = (what: string) => `${family} blob URLs: ${what}`;
        attacks.push(
          { name: at('the items URL, expired'), send: blob(then.items_url, 'GET'), ...refused(/expired/) },
          { name: at('the results URL, expired'), send: blob(then.results_url, 'PUT'), ...refused(/expired/) },
          {
            name: at('the results URL, expired, its expiry moved on'),
            send: blob(withQuery(then.results_url, (q) => q.set('expires', String(Number(q.get('expires')) + 7200))), 'PUT'),
            ...refused(/signature does not allow/),
          },
          { name: at('the items URL, its signature changed'), send: blob(changedUrlSignature(now.items_url), 'GET'), ...refused(/signature does not allow/) },
          { name: at('the results URL, its signature changed'), send: blob(changedUrlSignature(now.results_url), 'PUT'), ...refused(/signature does not allow/) },
          { name: at('the results URL, unsigned'), send: blob(withQuery(now.results_url, (q) => q.delete('signature')), 'PUT'), ...refused(/not signed/) },
          { name: at('the items URL used to write'), send: blob(now.items_url, 'PUT'), ...refused(/signature does not allow PUT/) },
          { name: at('the results URL with method=GET, used to read'), send: blob(withQuery(now.results_url, (q) => q.set('method', 'GET')), 'GET'), ...refused(/signature does not allow GET/) },
          { name: at("another robot's results URL moved to this batch's"), send: blob(moved(others.results_url, now.results_url), 'PUT'), ...refused(/signature does not allow/) },
          { name: at("another robot's items URL moved to this batch's"), send: blob(moved(others.items_url, now.items_url), 'GET'), ...refused(/signature does not allow/) },
          { name: at('a results URL signed with another key'), send: async () => blob(await forger.signedUrl(keyOf(now.results_url), 'PUT', 3600), 'PUT')(), ...refused(/signature does not allow/) },
          { name: at('an items URL signed with another key'), send: async () => blob(await forger.signedUrl(keyOf(now.items_url), 'GET', 3600), 'GET')(), ...refused(/signature does not allow/) },
        );
      }

      // ── Requesters: r2 on r1's requests ──
      const q = q1.body.id as string;
      const as2 = (method: string, path: string, body?: unknown) => () => h().api(method, path, { key: r2, body });
      const missing = { status: 404, code: 'not_found' };
      attacks.push(
        { name: "requester: another requester's request", send: as2('GET', `/v1/requests/${q}`), ...missing },
        { name: "requester: another requester's items", send: as2('GET', `/v1/requests/${q}/items`), ...missing },
        { name: "requester: another requester's batches", send: as2('GET', `/v1/requests/${q}/batches`), ...missing },
        { name: "requester: another requester's events (SSE)", send: as2('GET', `/v1/requests/${q}/events`), ...missing },
        { name: "requester: another requester's events, resumed", send: () => h().api('GET', `/v1/requests/${q}/events?last_event_id=0`, { key: r2, headers: { 'last-event-id': '0' } }), ...missing },
        { name: "requester: cancelling another requester's request", send: as2('POST', `/v1/requests/${q}/cancel`), ...missing },
        { name: "requester: retrying another requester's request", send: as2('POST', `/v1/requests/${qf.body.id}/retry`), ...missing },
        { name: "requester: retrying another requester's failed items", send: as2('POST', `/v1/requests/${qf.body.id}/retry`, { record_ids: [randomUUID()] }), ...missing },
        { name: "requester: another requester's DESTINY enhancement request", send: as2('GET', `/v1/enhancement-requests/${qd.body.id}/`), ...missing },
        {
          name: "requester: listing another requester's requests by robot",
          send: as2('GET', `/v1/requests?robot_id=${nA.id}`),
          status: 200,
          check: (res) => assert.deepEqual(res.body.data, []),
        },
        { name: 'requester: cancelling with no key', send: () => h().api('POST', `/v1/requests/${q}/cancel`, { key: null }), status: 401, code: 'unauthorized' },
        { name: 'requester: cancelling with an unknown key', send: () => h().api('POST', `/v1/requests/${q}/cancel`, { key: 'rk_not-a-key-anyone-has' }), status: 401, code: 'unauthorized' },
        {
          name: "requester: cancelling with a robot's signature",
          send: () => signedCall('rfc9421', nativeA, { method: 'POST', path: `/v1/requests/${q}/cancel`, body: '' }),
          status: 401,
          code: 'unauthorized',
        },
      );

      // ── Each refused, in the error shape, changing nothing ──
      for (const attack of attacks) {
        await t.test(attack.name, async () => {
          if (attack.prime) {
            const primed = await attack.prime();
            assert.equal(primed.status, attack.primeStatus, `the original: ${JSON.stringify(primed.body)}`);
            await h().refinery.background.drain();
          }
          const before = await state();
          const res = await attack.send();
          assert.equal(res.status, attack.status, JSON.stringify(res.body));
          if (attack.code) {
            assert.deepEqual(Object.keys(res.body.error).filter((k) => k !== 'details'), ['code', 'message'], JSON.stringify(res.body));
            assert.equal(res.body.error.code, attack.code);
            assert.equal(typeof res.body.error.message, 'string');
            if (attack.message) assert.match(res.body.error.message, attack.message);
          } else if (res.status === 204) assert.equal(res.body, null);
          attack.check?.(res);
          await h().refinery.background.drain();
          assert.deepEqual(await state(), before, 'the refused call changed something');
        });
      }

      // ── What was attacked was alive: its owners still may do what the attackers could not ──
      const handedIn = await signedCall('rfc9421', nativeA, nativeRoutes[3].call(nBatch.id, nativeA));
      assert.equal(handedIn.status, 202, JSON.stringify(handedIn.body));
      assert.equal(handedIn.body.status, 'failed');
      const destinyHandedIn = await signedCall('destiny', destinyA, destinyRoutes[3].call(dBatch.id, destinyA));
      assert.equal(destinyHandedIn.status, 200, JSON.stringify(destinyHandedIn.body));
      assert.equal((await fetch(nowB.results_url, { method: 'PUT', body: '\n' })).status, 200);
      assert.equal((await h().api('POST', `/v1/requests/${q}/cancel`, { key: r1 })).body.status, 'cancelled');
      assert.equal((await h().api('POST', `/v1/requests/${qf.body.id}/retry`, { key: r1 })).status, 202);
      await h().refinery.background.drain();
    });
  },
  { manualClock: true },
);

/** The URL with one character of its signature changed. */
function changedUrlSignature(url: string): string {
  const u = new URL(url);
  const signature = u.searchParams.get('signature')!;
  u.searchParams.set('signature', (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1));
  return u.toString();
}
