import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { validate } from '@readme/openapi-parser';
import pino from 'pino';
import { loadConfig } from '../src/config.ts';
import { openapiPath } from '../src/http/openapi.ts';
import { createRefinery } from '../src/refinery.ts';
import { tempDir } from './support/backends.ts';
import { describeEachBackend, references, type Harness, testMasterKey } from './support/harness.ts';

// /openapi.json as a client generator and a person at /docs use it: valid OpenAPI 3.1, every
// route in it, each operation's security as the server enforces it, errors in the error schema,
// schemas as named components.

type Schema = Record<string, any>;
type Operation = { security?: Array<Record<string, string[]>>; description?: string; parameters?: Schema[]; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, Schema> };

/** Left out of the document on purpose: the document itself, and the pages and assets of the /docs UI. */
/** Pages for people, not API: the docs UI, and the dashboard (and / that redirects to it). */
const hidden = (path: string) => path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/') || path === '/' || path === '/ui' || path.startsWith('/ui/');

/** Every route the server registers, as `METHOD /path`, read from Fastify's route tree (its HEAD routes repeat its GETs). */
function registeredRoutes(h: Harness): string[] {
  const prefix: string[] = [];
  const routes: string[] = [];
  for (const line of h.refinery.app.printRoutes().split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    prefix.length = m[1].length / 4;
    prefix.push(m[2]);
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') routes.push(`${method} ${prefix.join('')}`);
  }
  return routes;
}

async function openapi(h: Harness): Promise<Schema> {
  const res = await fetch(`${h.url}/openapi.json`);
  assert.equal(res.status, 200);
  return res.json();
}

function operations(doc: Schema): Array<{ method: string; path: string; op: Operation }> {
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

const component = (doc: Schema, ref: string): Schema => doc.components.schemas[ref.replace('#/components/schemas/', '')];

/** A value the schema takes (the smallest one, roughly), so that a call gets past validation. */
function sample(doc: Schema, schema: Schema): unknown {
  if (schema.$ref) return sample(doc, component(doc, schema.$ref));
  if ('default' in schema) return schema.default;
  if ('const' in schema) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf) return sample(doc, schema.anyOf[0]);
  switch (schema.type) {
    case 'object': {
      const keys: string[] = [...(schema.required ?? [])];
      for (const key of Object.keys(schema.properties ?? {})) if (keys.length < (schema.minProperties ?? 0) && !keys.includes(key)) keys.push(key);
      return Object.fromEntries(keys.map((key) => [key, sample(doc, schema.properties[key])]));
    }
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sample(doc, schema.items));
    case 'string':
      if (schema.format === 'uuid') return randomUUID();
      if (schema.format === 'date-time') return new Date(Date.now() + 3600_000).toISOString();
      return ['x', 'PT1M', 'https://example.com/'].find((s) => (!schema.pattern || new RegExp(schema.pattern).test(s)) && (!schema.format || s.startsWith('https')));
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    default:
      return null;
  }
}

/** Calls an operation with well-formed input, made up from the document, and `headers` for credentials. */
async function call(h: Harness, doc: Schema, { method, path, op }: { method: string; path: string; op: Operation }, headers: Record<string, string> = {}) {
  let url = path.replace(/\{(\w+)\}/g, (_, name) => (name === 'id' ? randomUUID() : 'x'));
  const query = (op.parameters ?? []).filter((p) => p.in === 'query' && p.required).map((p) => `${p.name}=${encodeURIComponent(String(sample(doc, p.schema)))}`);
  if (query.length) url += `?${query.join('&')}`;
  const json = op.requestBody?.content['application/json'];
  const init: RequestInit = { method, headers: { ...headers } };
  if (json) {
    init.body = JSON.stringify(sample(doc, json.schema));
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(h.url + url, init);
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

/** What a user can list: robots, keys, requests, records. */
async function everything(h: Harness) {
  const lists = await Promise.all(['/v1/robots?limit=1000', '/v1/api-keys', '/v1/requests?limit=1000', '/v1/records?limit=1000'].map((p) => h.api('GET', p)));
  return lists.map((l) => l.body.data.length);
}

describeEachBackend('the OpenAPI document', (h) => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const doc = await openapi(h());
    assert.equal(doc.openapi, '3.1.0');
    const result = await validate(doc as never);
    assert.ok(result.valid, JSON.stringify(result, null, 1));
  });

  it('has every route the server registers, and no other', async () => {
    const registered = registeredRoutes(h())
      .filter((r) => !hidden(r.split(' ')[1]))
      .map((r) => {
        const [method, path] = r.split(' ');
        return `${method} ${openapiPath(path)}`;
      });
    assert.ok(registered.includes('POST /v1/batches/{id}/results') && registered.includes('GET /v1/blobs/{key}'), registered.join('\n'));
    const documented = operations(await openapi(h())).map(({ method, path }) => `${method} ${path}`);
    assert.deepEqual([...documented].sort(), [...registered].sort());
  });

  it("declares each operation's security, and the server holds every caller to it", async () => {
    const doc = await openapi(h());
    const before = await everything(h());
    const requester = (await h().api('POST', '/v1/api-keys', { body: { name: `requester-${randomUUID()}`, role: 'requester' } })).body.key;
    const schemes = new Set<string>();
    for (const operation of operations(doc)) {
      const { method, path, op } = operation;
      const what = `${method} ${path}`;
      assert.ok(Array.isArray(op.security), `${what} declares its security`);
      const scheme = Object.keys(op.security![0] ?? {})[0];
      schemes.add(scheme ?? 'public');
      const res = await call(h(), doc, operation);
      if (!scheme) {
        assert.ok(res.status < 400, `${what} is public: ${res.status}`);
        continue;
      }
      assert.ok(doc.components.securitySchemes[scheme], `${what}: ${scheme} is a declared scheme`);
      const expected = { apiKey: [401, 'unauthorized'], robotSignature: [401, 'bad_signature'], signedUrl: [403, 'forbidden'] }[scheme];
      assert.deepEqual([res.status, res.body?.error?.code], expected, `${what} without credentials: ${JSON.stringify(res.body)}`);
      if (scheme !== 'apiKey') continue;
      const asRequester = await call(h(), doc, operation, { authorization: `Bearer ${requester}` });
      if (op.description?.includes('Needs an admin API key')) assert.deepEqual([asRequester.status, asRequester.body?.error?.code], [403, 'forbidden'], `${what} with a requester key`);
      else assert.ok(![401, 403].includes(asRequester.status), `${what} takes a requester key: ${JSON.stringify(asRequester.body)}`);
    }
    assert.deepEqual([...schemes].sort(), ['apiKey', 'public', 'robotSignature', 'signedUrl']);
    assert.deepEqual(await everything(h()), [before[0], before[1] + 1, before[2], before[3]], 'the refused calls changed nothing');
  });

  it('documents the errors of every operation with the error schema', async () => {
    const doc = await openapi(h());
    const error = doc.components.schemas.ErrorBody;
    assert.deepEqual(error.properties.error.required, ['code', 'message']);
    assert.ok(error.properties.error.properties.details);
    for (const { method, path, op } of operations(doc)) {
      assert.ok(op.responses.default, `${method} ${path} documents its other errors`);
      for (const [status, response] of Object.entries(op.responses)) {
        if (status !== 'default' && Number(status) < 400) continue;
        assert.equal(response.content?.['application/json']?.schema?.$ref, '#/components/schemas/ErrorBody', `${method} ${path} ${status}`);
        assert.ok(response.description, `${method} ${path} ${status} says what it means`);
      }
    }
    assert.ok(doc.paths['/v1/records/{id}'].get.responses['404']);
    assert.ok(doc.paths['/v1/robots'].post.responses['400']);
  });

  it('documents the status an invalid body really gets: 400 natively, 422 on the DESTINY API', async () => {
    const doc = await openapi(h());
    for (const [path, expected] of [['/v1/robots', 400], ['/v1/robots/', 422], ['/v1/enhancement-requests/', 422]] as const) {
      const res = await h().api('POST', path, { body: { name: 7 } });
      assert.equal(res.status, expected, `POST ${path}: ${JSON.stringify(res.body)}`);
      assert.ok(doc.paths[path].post.responses[String(expected)], `POST ${path} documents ${expected}`);
      assert.equal(doc.paths[path].post.responses[String(400 + 422 - expected)], undefined, `POST ${path} does not document the other`);
    }
  });

  it('names its schemas as components and refers to them, never a copy', async () => {
    const doc = await openapi(h());
    const refOf = (media: Schema | undefined) => media?.schema?.$ref;
    assert.equal(refOf(doc.paths['/v1/requests'].post.requestBody.content['application/json']), '#/components/schemas/RequestIn');
    assert.equal(refOf(doc.paths['/v1/requests/{id}'].get.responses['200'].content['application/json']), '#/components/schemas/RequestOut');
    assert.equal(refOf(doc.paths['/v1/batches/lease'].post.responses['200'].content['application/json']), '#/components/schemas/Batch');
    assert.equal(doc.components.schemas.RequestPage.properties.data.items.$ref, '#/components/schemas/RequestOut');
    const components = new Map(Object.entries(doc.components.schemas).map(([name, s]) => [JSON.stringify(s), name]));
    const visit = (node: unknown, where: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const copy = components.get(JSON.stringify(node));
      assert.equal(copy, undefined, `${where} copies the component ${copy} instead of referring to it`);
      for (const [key, value] of Object.entries(node)) visit(value, `${where}.${key}`);
    };
    visit(doc.paths, 'paths');
  });

  it('documents both bodies of POST /v1/records, and takes each type it names', async () => {
    const doc = await openapi(h());
    const content = doc.paths['/v1/records'].post.requestBody.content as Record<string, { schema: Schema }>;
    assert.equal(content['application/json'].schema.type, 'array');
    assert.equal(content['application/json'].schema.items.$ref, '#/components/schemas/RecordIn');
    assert.ok(content['application/x-ndjson']);
    for (const type of Object.keys(content)) {
      const [record] = references(1);
      const body = type === 'application/json' ? JSON.stringify([record]) : JSON.stringify(record) + '\n';
      const res = await h().api('POST', '/v1/records', { raw: body, headers: { 'content-type': type } });
      assert.equal(res.status, 200, `${type}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.ids.length, 1);
    }
    const refused = await h().api('POST', '/v1/records', { raw: 'type,doi\n', headers: { 'content-type': 'text/csv' } });
    assert.equal(refused.status, 415);
    assert.equal(refused.body.error.code, 'unsupported_media_type');
  });

  it('documents the Idempotency-Key header of a lease call', async () => {
    const doc = await openapi(h());
    const header = (doc.paths['/v1/batches/lease'].post as Operation).parameters?.find((p) => p.in === 'header' && p.name === 'idempotency-key');
    assert.ok(header, 'the lease operation has no idempotency-key header');
    assert.equal(header.required, false);
    assert.match(header.description ?? header.schema.description, /same batch/);
  });

  it('/docs offers the bearer scheme under Authorize, keeps it, and tries calls against this server', async () => {
    const page = await fetch(`${h().url}/docs`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /swagger-ui/i);
    const initializer = await (await fetch(`${h().url}/docs/static/swagger-initializer.js`)).text();
    assert.match(initializer, /"persistAuthorization":\s*true/);
    const spec = await (await fetch(`${h().url}/docs/json`)).json();
    assert.deepEqual(spec.components.securitySchemes.apiKey, { ...spec.components.securitySchemes.apiKey, type: 'http', scheme: 'bearer' });
    assert.deepEqual(spec.servers, [{ url: h().url }]);
    assert.deepEqual((await openapi(h())).servers, [{ url: h().url }]);
  });

  it('sends calls to REFINERY_PUBLIC_URL when it is set', async () => {
    const dir = await tempDir();
    const publicUrl = 'https://refinery.example.com/api';
    const config = loadConfig({ port: '0', host: '127.0.0.1', dataDir: dir.path, publicUrl, adminKey: 'test-admin-key-0123456789', logLevel: 'silent' }, { REFINERY_MASTER_KEY: testMasterKey });
    const behindProxy = await createRefinery({ config, db: h().refinery.ctx.db, log: pino({ level: 'silent' }), sweep: false });
    try {
      assert.equal(await behindProxy.listen(), publicUrl);
      const local = `http://127.0.0.1:${(behindProxy.app.server.address() as AddressInfo).port}`;
      for (const path of ['/openapi.json', '/docs/json']) assert.deepEqual((await (await fetch(local + path)).json()).servers, [{ url: publicUrl }], path);
    } finally {
      await behindProxy.close();
      await dir.remove();
    }
  });
});
