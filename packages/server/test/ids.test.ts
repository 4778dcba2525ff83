import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachBackend, references } from './support/harness.ts';
import { fillPath, operations, refusedStatus, sendAsAnyone, type Operation, type Schema } from './support/routes.ts';

// One rule for ids, wherever a caller sends one (path, query, body): a UUID in its usual text
// form, 8-4-4-4-12 hex digits in either case, is taken; any other form a UUID parser might
// accept (PostgreSQL takes braces, no hyphens, hyphens after any four digits; `urn:uuid:` is
// what JSON Schema's "uuid" format allows) is a 400 (a 422 on DESTINY's routes, as DESTINY
// answers a value its models refuse: docs/destiny.md), never a 500.

const unknownId = '01890000-0000-7000-8000-00000000abcd';

/** The forms of `id` the rule takes, and those it refuses. */
function forms(id: string): { taken: string[]; refused: string[] } {
  const hex = id.replaceAll('-', '');
  return {
    taken: [id.toUpperCase(), id.slice(0, 9) + id.slice(9).toUpperCase()],
    refused: [`urn:uuid:${id}`, `{${id}}`, hex, hex.match(/.{4}/g)!.join('-'), ` ${id}`, `${id}0`, id.slice(1)],
  };
}

const isUuid = (s: Schema | undefined) => s?.type === 'string' && s.format === 'uuid';

/** The body fields of `schema` that hold ids: a uuid, or an array of them. */
function idFields(schema: Schema | undefined): string[] {
  return Object.entries(schema?.properties ?? {})
    .filter(([, s]) => isUuid(s) || (s.type === 'array' && isUuid(s.items)))
    .map(([name]) => name);
}

/**
 * A body with only the fields `schema` requires (and as many more as its `minProperties` asks);
 * an id field (`robot_id`, `record_ids`) holds the id of a thing of that kind.
 */
function minimalBody(op: Operation, schema: Schema, ids: Record<string, string>): Record<string, unknown> {
  const example = (name: string, s: Schema): unknown => {
    const kind = name.replace(/_ids?$/, 's');
    if (isUuid(s) && ids[kind]) return ids[kind];
    if (s.type === 'array' && isUuid(s.items) && ids[kind]) return [ids[kind]];
    if (name === 'trigger') return { records: { type: 'reference' } };
    // A DESTINY robot automation's percolator query: new references with a DOI.
    if (name === 'query' && op.path.includes('/automations')) return { bool: { filter: [{ term: { 'changeset.identifiers.identifier_type': 'doi' } }] } };
    if (s.enum) return s.enum[0];
    if (s.type === 'boolean') return true;
    if (s.type === 'string' && !s.format && !s.pattern) return 'x';
    return undefined;
  };
  const body: Record<string, unknown> = {};
  for (const name of schema.required ?? []) {
    body[name] = example(name, schema.properties![name]);
    if (body[name] === undefined) throw new Error(`${op.method} ${op.path}: no example for its required field ${name}; add one here`);
  }
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    if (Object.keys(body).length >= (schema.minProperties ?? 0)) break;
    const value = example(name, s);
    if (value !== undefined) body[name] ??= value;
  }
  return body;
}

describeEachBackend('ids', (h) => {
  it('takes an id in any case and refuses every other form with a 400, in every path, query and body of the API', async () => {
    const robot = await h().createRobot();
    const [recordId] = await h().importRecords(references(1));
    // DESTINY's routes name records `reference_ids`, and a batch `request_id` in its results.
    const ids: Record<string, string> = { robots: robot.id, records: recordId, references: recordId, requests: unknownId };
    const ops = await operations(h());
    const wrong: string[] = [];
    let places = 0;
    /** Sends `call(form)` for every form of `id`: the forms taken answer as the usual form does, the others `refused` (400, or DESTINY's 422). */
    const check = async (where: string, id: string, refused: number, call: (form: string) => Promise<{ status: number; body: any }>) => {
      places++;
      const usual = await call(id);
      if (usual.status >= 500) wrong.push(`${where} = ${id}: ${usual.status}`);
      const { taken, refused: malformed } = forms(id);
      for (const form of taken) {
        const res = await call(form);
        if (res.status !== usual.status) wrong.push(`${where} = ${form}: ${res.status}, but ${usual.status} for ${id} (${JSON.stringify(res.body)})`);
      }
      for (const form of malformed) {
        const res = await call(form);
        if (res.status !== refused || res.body?.error?.code !== 'invalid_request') wrong.push(`${where} = ${form}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    };

    for (const op of ops) {
      const route = `${op.method} ${op.path}`;
      const takesIds = op.parameters.some((p) => isUuid(p.schema)) || idFields(op.body).length > 0;
      const body = op.body && takesIds ? minimalBody(op, op.body, ids) : undefined;
      const raw = body && JSON.stringify(body);
      for (const p of op.parameters.filter((p) => isUuid(p.schema))) {
        if (p.in === 'path') {
          await check(`${route} {${p.name}}`, unknownId, refusedStatus(op), (form) => sendAsAnyone(h(), robot, op.method, fillPath(op.path, { [p.name]: form }), raw));
        } else if (p.in === 'query') {
          await check(`${route} ?${p.name}`, robot.id, refusedStatus(op), (form) => sendAsAnyone(h(), robot, op.method, `${op.path}?${p.name}=${encodeURIComponent(form)}`, raw));
        } else {
          throw new Error(`${route}: an id in a ${p.in} is not checked here; add it`);
        }
      }
      // The path of a body's check names `unknownId` in each of its ids (a robot signs the path as sent).
      const path = fillPath(op.path, Object.fromEntries(op.parameters.filter((p) => p.in === 'path').map((p) => [p.name, unknownId])));
      for (const field of body ? idFields(op.body) : []) {
        // An optional id field (`record_ids` of a retry) is sent with the id of a thing of its kind.
        const many = op.body!.properties![field].type === 'array';
        const id = body![field] === undefined ? ids[field.replace(/_ids?$/, 's')] : many ? (body![field] as string[])[0] : (body![field] as string);
        await check(`${route} body.${field}`, id, refusedStatus(op), (form) => sendAsAnyone(h(), robot, op.method, path, JSON.stringify({ ...body, [field]: many ? [form] : form })));
      }
    }
    assert.ok(places >= 14, `ids are taken in ${places} places`);
    assert.deepEqual(wrong, []);
  });

  it('reads a thing by its id in upper case as by its usual one, in every GET of the API', async () => {
    const robot = await h().createRobot();
    const [recordId] = await h().importRecords(references(1));
    const leasedRequest = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } });
    const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease');
    assert.equal(leased.status, 200);
    const ids: Record<string, string> = { robots: robot.id, records: recordId, requests: leasedRequest.body.id, batches: leased.body.id };
    // The same things, by the names of DESTINY's routes.
    Object.assign(ids, { references: recordId, 'enhancement-requests': ids.requests, 'robot-enhancement-batches': ids.batches });
    const automation = await h().api('POST', '/v1/automations', { body: { robot_id: robot.id, trigger: { records: { type: 'reference' } } } });
    assert.equal(automation.status, 201, JSON.stringify(automation.body));
    ids.automations = automation.body.id;
    // A final request, so that its event stream ends.
    assert.equal((await h().api('POST', `/v1/requests/${ids.requests}/cancel`)).status, 200);
    let read = 0;
    for (const op of await operations(h())) {
      const [, kind, param] = /^\/v1\/([a-z-]+)\/\{([a-z_]+)\}/.exec(op.path) ?? [];
      if (op.method !== 'GET' || !kind || !isUuid(op.parameters.find((p) => p.name === param)?.schema)) continue;
      assert.ok(ids[kind], `no ${kind} made for ${op.path}; add one`);
      const usual = await sendAsAnyone(h(), robot, 'GET', fillPath(op.path, { [param]: ids[kind] }));
      const upper = await sendAsAnyone(h(), robot, 'GET', fillPath(op.path, { [param]: ids[kind].toUpperCase() }));
      assert.equal(usual.status, 200, `${op.path}: ${JSON.stringify(usual.body)}`);
      assert.equal(upper.status, 200, `${op.path} in upper case: ${JSON.stringify(upper.body)}`);
      if (typeof usual.body === 'object' && 'id' in usual.body) assert.equal(upper.body.id, ids[kind]);
      read++;
    }
    assert.ok(read >= 6, `${read} GETs read a thing by its id`);
    const listed = await h().api('GET', `/v1/requests?robot_id=${robot.id.toUpperCase()}`);
    assert.deepEqual(
      listed.body.data.map((r: { id: string }) => r.id),
      [ids.requests],
    );
  });

  it('pauses a robot named by its id in upper case at once, for its next call through the same process', async () => {
    const robot = await h().createRobot();
    const [recordId] = await h().importRecords(references(1));
    assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } })).status, 202);
    // The robot's signature was just checked here: the process keeps its row a few seconds.
    assert.equal((await h().robotCall(robot, 'GET', `/v1/batches/${unknownId}`)).status, 404);
    const paused = await h().api('PATCH', `/v1/robots/${robot.id.toUpperCase()}`, { body: { active: false } });
    assert.equal(paused.status, 200);
    assert.equal(paused.body.active, false);
    assert.equal((await h().robotCall(robot, 'POST', '/v1/batches/lease')).status, 204, 'a paused robot leases nothing');
  });
});
