import { STATUS_CODES } from 'node:http';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { FastifyRequest, RouteOptions } from 'fastify';
import Type from 'typebox';
import * as protocol from '@refinery/protocol';
import type { Access } from '../auth/index.ts';

/**
 * The generic parts of /openapi.json, so that it stays right whoever edits a route: each
 * operation's security scheme comes from who its route says may call it (`config.access`), its
 * error responses from what the route takes, and every schema @refinery/protocol exports under a
 * name is a component of that name, referenced where a route uses it.
 */

/** How callers prove who they are. */
export const securitySchemes = {
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (`Authorization: Bearer <key>`): a requester\'s or an admin\'s. Operations that need an admin key say so.',
  },
  robotSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'Signature',
    description:
      'Robots sign every call with RFC 9421 HTTP Message Signatures, HMAC-SHA256 keyed with the robot secret, over ' +
      '`("@method" "@target-uri" "content-digest")`, with `keyid` the robot id, a `created` time and a fresh `nonce`: ' +
      'headers `Content-Digest`, `Signature-Input` and `Signature` (SPEC.md, "Robot signatures, exactly"; the SDK\'s RobotClient does it).',
  },
  destinySignature: {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description:
      'Robots may instead sign as destiny_sdk does, on any robot operation: `Authorization: Signature <hex>` with `X-Client-Id` (the robot id) ' +
      'and `X-Request-Timestamp` (seconds, as Python\'s time.time() writes them), the signature HMAC-SHA256 keyed with the robot secret over the ' +
      'raw body, `:`, the robot id\'s 16 bytes, `:` and the timestamp (docs/destiny.md). Taken when there is no `Signature-Input` header.',
  },
  signedUrl: {
    type: 'apiKey',
    in: 'query',
    name: 'signature',
    description: 'The blob URLs Refinery hands out (`items_url`, `results_url`, `report_url`, `manifest_url`) carry their own expiring signature: use them as given.',
  },
} as const;
export type SecurityScheme = keyof typeof securitySchemes;

interface Guard {
  scheme: SecurityScheme;
  /** Schemes a caller may use instead of `scheme`. */
  alternatives?: readonly SecurityScheme[];
  roles?: readonly string[];
}

/** The security scheme of a route, from who it says may call it (`config.access`, auth/authenticate.ts). */
const guardOfAccess: Record<Access, Guard | null> = {
  admin: { scheme: 'apiKey', roles: ['admin'] },
  requester: { scheme: 'apiKey', roles: ['admin', 'requester'] },
  robot: { scheme: 'robotSignature', alternatives: ['destinySignature'] },
  signedUrl: { scheme: 'signedUrl' },
  public: null,
};

function guardOf(route: RouteOptions): Guard | null {
  const access = (route.config as { access?: Access } | undefined)?.access;
  return access ? guardOfAccess[access] : null;
}

/**
 * The object and union schemas @refinery/protocol exports, by identity, with their export names;
 * those of a namespace it exports (`export * as destiny`) by their qualified names (`destiny.Reference`).
 */
const componentNames = new Map<object, string>();
function nameComponents(exports: object, prefix: string): void {
  for (const [name, value] of Object.entries(exports)) {
    if (Object.prototype.toString.call(value) === '[object Module]') nameComponents(value, `${prefix}${name}.`);
    else if ((Type.IsObject(value) || Type.IsUnion(value)) && !componentNames.has(value)) componentNames.set(value, prefix + name);
  }
}
nameComponents(protocol, '');

const componentsPath = '#/components/schemas/';

/** A copy of `value` in which every named schema (but `root`) is a reference to its component. */
function withRefs(value: unknown, root?: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => withRefs(v));
  if (typeof value !== 'object' || value === null) return value;
  const name = value === root ? undefined : componentNames.get(value);
  if (name) return { $ref: componentsPath + name };
  return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (k === '$id' ? [] : [[k, withRefs(v)]])));
}

const errorBody = (description: string) => ({ $ref: componentsPath + 'ErrorBody', description });
const bodyMethods = new Set(['POST', 'PUT', 'PATCH']);

/** The errors a route can answer with, in the `{"error":{"code","message","details"?}}` shape, from what it takes and who may call it. */
function errorResponses(route: RouteOptions, guard: Guard | null): Record<string, unknown> {
  const schema = route.schema ?? {};
  const takesBody = [route.method].flat().some((m) => bodyMethods.has(m));
  const hasParams = /[:*]/.test(route.url);
  const responses: Record<string, unknown> = {};
  if (takesBody || schema.body || schema.querystring || schema.params || schema.headers) {
    responses[route.config?.invalidInputStatus ?? 400] = errorBody('The request is malformed or a value in it is invalid (`invalid_request`, `malformed_json`, `invalid_cursor`); nothing changed.');
  }
  if (guard?.scheme === 'apiKey') {
    responses[401] = errorBody('No API key, or not a valid one (`unauthorized`).');
    responses[403] = errorBody('This key\'s role may not do this (`forbidden`).');
  } else if (guard?.scheme === 'robotSignature') {
    responses[401] = errorBody('The signature is missing, stale, replayed or does not match this request (`bad_signature`).');
  } else if (guard?.scheme === 'signedUrl') {
    responses[403] = errorBody('The URL\'s signature is missing, expired or does not match (`forbidden`).');
  }
  if (hasParams) responses[404] = errorBody('Not found, or not the caller\'s to see (`not_found`).');
  if (takesBody) {
    responses[408] = errorBody('The body stalled: nothing of it arrived for REFINERY_BODY_TIMEOUT (`body_timeout`); nothing changed, and the connection is closed.');
    responses[413] = errorBody('The body is larger than this operation takes (`payload_too_large`).');
    responses[415] = errorBody('This operation does not take that content type (`unsupported_media_type`).');
  }
  responses.default = errorBody('Any other error, in the same shape: a conflict (409) or refusal (422) the summary names, `unavailable` (503), `internal` (500).');
  return responses;
}

/** A route's path as the document spells it: `:id` is `{id}`, a trailing wildcard (the blob routes') `{key}`. */
export function openapiPath(url: string): string {
  return url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{key}');
}

/** Security, error responses and component references for one route. */
function transform({ schema, url, route }: { schema: RouteOptions['schema']; url: string; route: RouteOptions }) {
  const s = (schema ?? {}) as Record<string, unknown>;
  const guard = guardOf(route);
  const roles = guard?.roles?.length === 1 ? `Needs an ${guard.roles[0]} API key.` : null;
  const answers = Object.entries(s.response ?? {}).map(([status, answer]) => [
    status,
    { ...(withRefs(answer) as object), description: (answer as { description?: string }).description ?? STATUS_CODES[status] },
  ]);
  return {
    url: url.replace(/\*$/, ':key'),
    schema: {
      ...s,
      ...(s.body !== undefined && { body: withRefs(s.body) }),
      ...(roles && { description: [s.description, roles].filter(Boolean).join('\n\n') }),
      response: { ...errorResponses(route, guard), ...Object.fromEntries(answers) },
      security: guard ? [guard.scheme, ...(guard.alternatives ?? [])].map((scheme) => ({ [scheme]: [] })) : [],
    },
  };
}

/** The names of the components `node` references, and those they reference in turn. */
function referenced(node: unknown, components: Record<string, unknown>, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const v of node) referenced(v, components, found);
  else if (typeof node === 'object' && node !== null) {
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string' && ref.startsWith(componentsPath)) {
      const name = ref.slice(componentsPath.length);
      if (!found.has(name)) {
        found.add(name);
        referenced(components[name], components, found);
      }
    }
    for (const v of Object.values(node)) referenced(v, components, found);
  }
  return found;
}

/** The options @fastify/swagger is registered with. */
export function openapiOptions(): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Refinery', version: '0.1.0', description: 'Robots enhance records in batches.' },
      components: {
        securitySchemes: securitySchemes as never,
        schemas: Object.fromEntries([...componentNames].map(([schema, name]) => [name, withRefs(schema, schema)])) as never,
      },
    },
    transform: transform as never,
    // Only the components an operation uses: the query and path schemas are spelled out as parameters.
    transformObject: (document) => {
      const doc = (document as { openapiObject: { paths?: unknown; components: { schemas: Record<string, unknown> } } }).openapiObject;
      const used = referenced(doc.paths, doc.components.schemas);
      for (const name of Object.keys(doc.components.schemas)) if (!used.has(name)) delete doc.components.schemas[name];
      return doc as never;
    },
  };
}

/** Where "try it out" and generated clients send their calls: the public URL, or the host the document was asked of. */
export function servers(publicUrl: string | null, request: FastifyRequest): Array<{ url: string }> {
  return [{ url: publicUrl ?? `${request.protocol}://${request.host}` }];
}
