import fc from 'fast-check';
import type { Schema } from './routes.ts';

// Values for a generated hostile-input test: what a route's schema takes (valid), what it does
// not (hostile), and the ways to break them further once they are text.

/**
 * Stand-ins for what JSON.stringify cannot write: a number past ±1.8e308, a number with more
 * digits than a double holds, nesting `n` deep. `serialize` writes them into the text.
 */
const marker = (what: string) => `\u0001${what}\u0001`;
export const beyondDouble = marker('1e999');
const negativeBeyondDouble = marker('-1e999');
const longInteger = marker('123456789012345678901234567890');
const nested = (depth: number) => marker(`deep${depth}`);

/** `value` as JSON text, the markers above written as what they stand for. */
export function serialize(value: unknown): string {
  return (JSON.stringify(value) ?? '').replace(/"\\u0001([^"\\]*)\\u0001"/g, (_, what: string) =>
    what.startsWith('deep') ? '['.repeat(Number(what.slice(4))) + ']'.repeat(Number(what.slice(4))) : what,
  );
}

/** The ways one id can be written: what a UUID parser may take, and what nobody should. */
export function idSpellings(id: string): string[] {
  return [id, id.toUpperCase(), `urn:uuid:${id}`, `{${id}}`, id.replaceAll('-', ''), ` ${id}`, `${id}\u0000`, `${id.slice(0, -1)}\ud800`, `${id}x`, id.slice(0, 35)];
}

const oddStrings = [
  '',
  ' ',
  'a\u0000b',
  '\u0000',
  '\ud800',
  'x\udc00y',
  '\udbff\udbff',
  '\u202eevil\u202c',
  'zero\u200bwidth',
  'e\u0301\u0301\u0301',
  '👩‍👩‍👧‍👦',
  '\ufeff',
  '\uffff',
  '%00',
  '%ED%A0%80',
  '../../etc/passwd',
  "'; drop table records; --",
  '$(reboot)',
  'null',
  'x'.repeat(5000),
];

/** A value in place of another, of any type: wrong types, huge numbers, NUL, lone surrogates, odd unicode, deep nesting, urn:uuid ids. */
export function hostileValue(ids: string[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, -0, 2 ** 53 + 1, 1e308, -1e308, 5e-324, [], {}, [null], { '': '' }, beyondDouble, negativeBeyondDouble, longInteger),
    fc.constantFrom(...oddStrings),
    fc.constantFrom(...ids).chain((id) => fc.constantFrom(...idSpellings(id))),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ unit: fc.constantFrom('\ud800', '\udfff', '\u0000', 'a', '\u00e9', '\u{1f600}'), maxLength: 6 }),
    fc.integer(),
    fc.double(),
    fc.integer({ min: 300, max: 4000 }).map(nested),
  );
}

/** Field names no schema has, some of them dangerous to a careless merge. */
const extraKeys = ['extra', '__proto__', 'constructor', 'prototype', '', 'a\u0000b', '\ud800', 'name ', 'NAME'];

type Path = Array<string | number>;

function nodes(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (Array.isArray(value)) value.forEach((v, i) => nodes(v, [...path, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) nodes(v, [...path, k], out);
  return out;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // An own property even for `__proto__`, as JSON.parse makes it.
  Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
}

export type Mutation = { kind: 'replace'; with: unknown } | { kind: 'drop' } | { kind: 'extra'; key: string; with: unknown } | { kind: 'poison'; with: string };

export function mutation(ids: string[]): fc.Arbitrary<Mutation> {
  return fc.oneof(
    { weight: 4, arbitrary: hostileValue(ids).map((w) => ({ kind: 'replace' as const, with: w })) },
    { weight: 2, arbitrary: fc.constant({ kind: 'drop' as const }) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...extraKeys), hostileValue(ids)).map(([key, w]) => ({ kind: 'extra' as const, key, with: w })) },
    { weight: 3, arbitrary: fc.constantFrom('\u0000', '\ud800', '\udfff', '\u0000\ud800').map((w) => ({ kind: 'poison' as const, with: w })) },
  );
}

/** `value` with `m` applied at one of its places (`at`, modulo their number); the value itself is left as it was. */
export function mutate(value: unknown, m: Mutation, at: number): unknown {
  const root = { v: structuredClone(value) } as Record<string, unknown>;
  let places = nodes(root.v);
  if (m.kind === 'poison') {
    // A value of the right type but for what it holds: a string with `m.with` in it, a number past a double.
    const leaf = (path: Path) => ['string', 'number'].includes(typeof path.reduce((v: any, k) => v?.[k], root.v));
    places = places.filter(leaf);
    if (!places.length) return root.v;
  }
  const path = places[at % places.length];
  let parent: any = root;
  let key: string | number = 'v';
  for (const step of path) {
    parent = parent[key];
    key = step;
  }
  if (m.kind === 'replace') parent[key] = m.with;
  else if (m.kind === 'poison') parent[key] = typeof parent[key] === 'number' ? beyondDouble : `${parent[key]}${m.with}`;
  else if (m.kind === 'drop') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else {
    const target = parent[key];
    if (target && typeof target === 'object' && !Array.isArray(target)) setOwn(target, m.key, m.with);
    else if (Array.isArray(target)) target.push(m.with);
    else parent[key] = m.with;
  }
  return root.v;
}

/** Text-level damage to a body (or a JSONL line): broken JSON, bytes that are not UTF-8, another JSON value entirely. */
export function textDamage(): fc.Arbitrary<(text: Buffer) => Buffer> {
  const whole = (b: string | Buffer) => () => (typeof b === 'string' ? Buffer.from(b) : b);
  return fc.oneof(
    fc.nat().map((n) => (t: Buffer) => t.subarray(0, t.length ? n % t.length : 0)),
    fc.constantFrom('}', ']', ',', 'x', '\n{}', ' ', '\u0000', '"').map((s) => (t: Buffer) => Buffer.concat([t, Buffer.from(s)])),
    fc.constant((t: Buffer) => Buffer.concat([Buffer.from('\ufeff'), t])),
    fc.nat().map((n) => (t: Buffer) => Buffer.concat([t.subarray(0, t.length ? n % t.length : 0), Buffer.from([0xff, 0xfe]), t.subarray(t.length ? n % t.length : 0)])),
    fc.constant((t: Buffer) => Buffer.concat([t, t])),
    fc
      .constantFrom<string | Buffer>(
        '',
        'null',
        '[]',
        '{}',
        '"x"',
        '0',
        'true',
        '{"a":1,"a":2}',
        '{"__proto__":{"admin":true}}',
        '{"a":"\\ud800"}',
        '{"a":"\\u0000"}',
        '{"a":1e999}',
        '{"a":-1e999}',
        '[1e999]',
        '{"a":1.0e+400}',
        Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]),
        Buffer.from([0xc0, 0xaf]),
        '['.repeat(20_000) + ']'.repeat(20_000),
        '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000),
      )
      .map(whole),
  );
}

const durations = ['PT1M', '600', 'PT10M', '1.5', 'P1D', 'PT0S', '0'];
const urls = ['http://127.0.0.1:9/hook', 'https://127.0.0.1:9/robot/'];

/** A value `schema` takes; uuids from `idsFor(name)` (the ids of things that exist, or any uuid). */
export function validValue(schema: Schema, name: string, idsFor: (name: string) => string[]): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => validValue(s, name, idsFor)));
  if ('const' in schema) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'object': {
      const properties = schema.properties ?? {};
      const keys = Object.keys(properties);
      if (!keys.length) {
        // A free object: a robot's content schema. Some compile, some do not.
        return fc.constantFrom({}, { type: 'object' }, { type: 'object', properties: { score: { type: 'number' } } }, { type: 'nonsense' }, { type: 'string', pattern: '(' }, { $ref: '#/nowhere' });
      }
      const record = fc.record(Object.fromEntries(keys.map((k) => [k, validValue(properties[k], k, idsFor)])), { requiredKeys: schema.required ?? [] });
      return schema.minProperties ? record.filter((r) => Object.keys(r).length >= schema.minProperties!) : record;
    }
    case 'array': {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.min(schema.maxItems ?? 3, Math.max(minLength, 3));
      const item = validValue(schema.items ?? {}, name, idsFor);
      return schema.uniqueItems ? fc.uniqueArray(item, { minLength, maxLength, selector: (v) => JSON.stringify(v) }) : fc.array(item, { minLength, maxLength });
    }
    case 'string': {
      if (schema.format === 'uuid') return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...idsFor(name)) }, { weight: 1, arbitrary: fc.uuid({ version: [4, 7] }) });
      if (schema.format === 'date-time') return fc.date({ min: new Date('2020-01-01'), max: new Date('2035-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
      if (schema.format === 'uri') return fc.constantFrom(...urls);
      if (schema.pattern?.startsWith('^(?:\\d+(?:\\.\\d+)?|P')) return fc.constantFrom(...durations);
      const min = schema.minLength ?? 0;
      const max = Math.min(schema.maxLength ?? 40, 40);
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= min && s.length <= (schema.maxLength ?? Infinity));
      return fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.max(min, max) });
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: Math.min(schema.maximum ?? 1_000_000, 1_000_000) });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    default:
      return fc.jsonValue({ maxDepth: 3 });
  }
}

/** A value for a query or header parameter: valid for its schema as text, or text it should refuse. */
export function hostileText(ids: string[]): fc.Arbitrary<string> {
  const cursor = (k: string) => Buffer.from(`{"k":${k}}`).toString('base64url');
  return fc.oneof(
    fc.constantFrom('', '0', '-1', '1e999', '1.5', 'NaN', 'Infinity', '99999999999999999999', 'true', ' ', 'x'.repeat(300), '%00', '%ED%A0%80', '%FF', '%', 'a%2', '%E2%80%AE', '%F0%9F%98%80'),
    fc.constantFrom('"abc"', '1e999', '{}', 'null', `"${'9'.repeat(30)}"`, '[1]').map(cursor),
    fc.constantFrom(...ids).chain((id) => fc.constantFrom(...idSpellings(id).filter((s) => !/[\0\ud800]/.test(s)))),
  );
}
