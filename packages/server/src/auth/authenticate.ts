import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { maxClockSkewSeconds, parseSignedRequest, SignatureError, signatureMatches, uuidPattern, type Role } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { authenticationPluginName } from '../http/index.ts';
import { hashApiKey } from './apiKeys.ts';
import { getApiKeyByHash } from './queries/getApiKeyByHash.ts';
import type { RobotRow } from '../robots/index.ts';
import { verifyDestinySignature } from '../destiny/index.ts';
import { findSigner } from './findSigner.ts';
import { insertNonceIfNew } from './queries/insertNonceIfNew.ts';

/**
 * Who may call a route, declared by every route (`config: { access }`): `admin` (an admin key),
 * `requester` (a requester or admin key), `robot` (a robot's signature: RFC 9421, or DESTINY's),
 * `signedUrl` (the URL's own signature, checked by the blob routes) or `public`.
 */
export type Access = 'admin' | 'requester' | 'robot' | 'signedUrl' | 'public';

/** Who made a request: an API key, or a robot (its row as read when its signature was checked). */
export type Principal = { kind: 'key'; keyId: string; role: Role; name: string } | { kind: 'robot'; robot: RobotRow };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    access?: Access;
    /** On `robot` routes: the scheme their robots sign with, in whose words an unsigned call is refused (default RFC 9421). */
    signatureScheme?: 'rfc9421' | 'destiny';
    /** The status a request that fails validation gets: 400, or 422 on the DESTINY API, as FastAPI answers. */
    invalidInputStatus?: 400 | 422;
  }
}

/** Robots' request bodies are small JSON; more than this is refused before it is hashed. */
const maxSignedBodyBytes = 64 * 1024;

const keyRoles: Partial<Record<Access, Role[]>> = { admin: ['admin'], requester: ['admin', 'requester'] };

/**
 * Checks who is calling, on every route registered after it, before anything else of the call is
 * read or validated: a key when the request arrives, a robot's signature as its body is read
 * (the signature covers the body). A route that does not declare its `access` fails at boot.
 */
/** Who may call each route (its `config.access`), checked before anything else of the request is read: for every route registered after it. */
export const authentication = fp(async (app: FastifyInstance, { ctx }: { ctx: Context }) => installAuthentication(app, ctx), { name: authenticationPluginName, fastify: '5.x' });

function installAuthentication(app: FastifyInstance, ctx: Context): void {
  app.addHook('onRoute', (route) => {
    if (!route.config?.access) throw new Error(`${route.method} ${route.url} does not declare who may call it (config.access)`);
  });
  app.addHook('onRequest', async (request) => {
    const roles = keyRoles[request.routeOptions.config.access ?? 'public'];
    if (roles) await authenticateKey(ctx, request, roles);
  });
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (request.routeOptions.config.access !== 'robot') return payload;
    return authenticateRobot(ctx, request, payload);
  });
}

/** A Bearer API key with one of `roles`. */
async function authenticateKey(ctx: Context, request: FastifyRequest, roles: Role[]): Promise<void> {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) throw errors.unauthorized();
  const hash = hashApiKey(match[1]);
  let key = ctx.recentKeys.get(hash);
  if (!key) {
    key = await getApiKeyByHash(ctx.db, hash);
    if (!key) throw errors.unauthorized('this API key is not valid');
    ctx.recentKeys.set(hash, key);
  }
  if (!roles.includes(key.role)) throw errors.forbidden(`this needs a ${roles.join(' or ')} key`);
  request.principal = { kind: 'key', keyId: key.id, role: key.role, name: key.name };
}

/** The caller's key, on routes of `admin` or `requester` access. */
export function keyOf(request: FastifyRequest): Extract<Principal, { kind: 'key' }> {
  if (request.principal?.kind !== 'key') throw errors.unauthorized();
  return request.principal;
}

/** Whether the calling key may see what key `ownerKeyId` made: it is that key, or an admin's. */
export function callerOwns(request: FastifyRequest, ownerKeyId: string | null): boolean {
  const key = keyOf(request);
  return key.role === 'admin' || ownerKeyId === key.keyId;
}

export function robotOf(request: FastifyRequest): string {
  return signingRobotOf(request).id;
}

/** The signing robot's row, read with its secrets when the signature was checked. */
export function signingRobotOf(request: FastifyRequest): RobotRow {
  if (request.principal?.kind !== 'robot') throw errors.unauthorized();
  return request.principal.robot;
}

function targetUri(ctx: Context, request: FastifyRequest): string {
  if (ctx.config.publicUrl) return ctx.config.publicUrl + request.url;
  return `${request.protocol}://${request.host}${request.url}`;
}

async function readBody(payload: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    size += (chunk as Buffer).length;
    if (size > maxSignedBodyBytes) throw errors.payloadTooLarge(`a robot's request body may be at most ${maxSignedBodyBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** RFC 9421: the signature over method, target URI and body digest, fresh, its nonce not seen before. */
async function verifyMessageSignature(ctx: Context, request: FastifyRequest, body: Buffer): Promise<RobotRow> {
  let parsed;
  try {
    parsed = parseSignedRequest({
      method: request.method,
      targetUri: targetUri(ctx, request),
      body,
      headers: request.headers,
      nowSeconds: Math.floor(ctx.clock.now().getTime() / 1000),
    });
  } catch (err) {
    if (err instanceof SignatureError) throw errors.badSignature(err.message);
    throw err;
  }
  if (!uuidPattern.test(parsed.keyId)) throw errors.badSignature('keyid must be the robot id');
  const robotId = parsed.keyId.toLowerCase();
  const signer = await findSigner(ctx, robotId, (secrets) => signatureMatches(parsed, secrets));
  if (!signer) throw errors.badSignature('the signature does not match this request for that robot and secret');
  const fresh = await insertNonceIfNew(ctx.db, {
    robotId,
    nonce: parsed.nonce,
    expiresAt: new Date((parsed.created + 2 * maxClockSkewSeconds) * 1000),
  });
  if (!fresh) throw errors.badSignature('this nonce was used before (replay)');
  return signer.robot;
}

/**
 * Verifies a robot's signature, in either scheme, then hands the body on to the parser: RFC 9421
 * (SPEC.md), or DESTINY's HMAC (`Authorization: Signature …`, `X-Client-Id`,
 * `X-Request-Timestamp`: docs/destiny.md), taken when there is no `Signature-Input`. A request
 * signed in neither is answered in the words of the route's `signatureScheme`.
 */
async function authenticateRobot(ctx: Context, request: FastifyRequest, payload: NodeJS.ReadableStream): Promise<NodeJS.ReadableStream> {
  const { headers } = request;
  const destiny =
    headers['signature-input'] === undefined &&
    (request.routeOptions.config.signatureScheme === 'destiny' || headers['x-client-id'] !== undefined || /^Signature /.test(headers.authorization ?? ''));
  const body = await readBody(payload);
  const robot = destiny ? await verifyDestinySignature(ctx, headers, body) : await verifyMessageSignature(ctx, request, body);
  request.principal = { kind: 'robot', robot };
  const replay = Readable.from(body.length ? [body] : []);
  (replay as unknown as { receivedEncodedLength: number }).receivedEncodedLength = body.length;
  return replay;
}
