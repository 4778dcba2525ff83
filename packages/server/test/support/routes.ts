import { signRequest } from '@refinery/protocol';
import type { Harness } from './harness.ts';

/** A JSON Schema as /openapi.json gives it. */
export type Schema = {
  type?: string;
  format?: string;
  pattern?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  minProperties?: number;
  items?: Schema;
  anyOf?: Schema[];
  const?: unknown;
  default?: unknown;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  additionalProperties?: boolean | Schema;
};

export interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  schema: Schema;
}

/** One route as the API documents it: `/v1/robots/{id}`, its tags, its parameters and its JSON body's schema. */
export interface Operation {
  method: string;
  path: string;
  tags: string[];
  parameters: Parameter[];
  body?: Schema;
  /** The security scheme it asks for (`apiKey`, `robotSignature`, `signedUrl`), or null when public. */
  scheme: string | null;
  /** It needs an admin key: a requester's is refused. */
  adminOnly: boolean;
}

/**
 * The status of a call that `op`'s schema refuses: 400 `invalid_request`, but 422 on the
 * DESTINY-compatible routes (tagged `destiny`), as DESTINY (FastAPI) answers it (docs/destiny.md).
 */
export function refusedStatus(op: Operation): number {
  return op.tags.includes('destiny') ? 422 : 400;
}

/** Every operation in the API's own description (/openapi.json), its component references resolved: what a generated test walks. */
export async function operations(h: Harness): Promise<Operation[]> {
  const res = await fetch(`${h.url}/openapi.json`);
  const doc = (await res.json()) as {
    paths: Record<string, Record<string, { tags?: string[]; description?: string; security?: Array<Record<string, string[]>>; parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
    components?: { schemas?: Record<string, Schema> };
  };
  // A component met again inside itself (RecordFilter nests filters) is left as any value.
  const resolved = (node: unknown, expanding: ReadonlySet<string> = new Set()): any => {
    if (Array.isArray(node)) return node.map((v) => resolved(v, expanding));
    if (typeof node !== 'object' || node === null) return node;
    const ref = (node as { $ref?: string }).$ref;
    if (ref?.startsWith('#/components/schemas/')) {
      const name = ref.slice('#/components/schemas/'.length);
      return expanding.has(name) ? {} : resolved(doc.components?.schemas?.[name], new Set([...expanding, name]));
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolved(v, expanding)]));
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      tags: op.tags ?? [],
      parameters: resolved(op.parameters ?? []),
      body: resolved(op.requestBody?.content['application/json']?.schema),
      scheme: Object.keys(op.security?.[0] ?? {})[0] ?? null,
      adminOnly: op.description?.includes('Needs an admin API key') ?? false,
    })),
  );
}

/** `path` with each `{name}` replaced by `values[name]`, encoded. */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`no value for {${name}} in ${path}`);
    return encodeURIComponent(values[name]);
  });
}

/** The operations that need a key or a robot's signature: all of /v1 but the blob store, whose URLs carry their own signature. */
export function needsCredentials(op: Operation): boolean {
  return op.path.startsWith('/v1/') && !op.path.startsWith('/v1/blobs/');
}

/**
 * Sends a call with the admin key and a signature of `robot` both, so that it passes whichever
 * of the two its route asks for; `raw` is the body exactly as sent.
 */
export async function sendAsAnyone(h: Harness, robot: { id: string; secret: string }, method: string, path: string, raw?: string): Promise<{ status: number; body: any }> {
  const url = h.url + path;
  const headers: Record<string, string> = { ...signRequest({ method, url, body: raw ?? '', keyId: robot.id, secret: robot.secret }), authorization: `Bearer ${h.adminKey}` };
  if (raw !== undefined) headers['content-type'] = 'application/json';
  return answer(await fetch(url, { method, headers, body: raw }));
}

export async function answer(res: Response): Promise<{ status: number; body: any }> {
  const text = await res.text();
  try {
    return { status: res.status, body: text ? JSON.parse(text) : null };
  } catch {
    return { status: res.status, body: text };
  }
}
