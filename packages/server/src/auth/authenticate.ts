import { Readable } from 'node:stream';
import type { FastifyRequest, preHandlerHookHandler, preParsingHookHandler } from 'fastify';
import { maxClockSkewSeconds, parseSignedRequest, SignatureError, signatureMatches, uuidPattern, type Role } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { guardedBy } from '../http/openapi.ts';
import { hashApiKey } from './apiKeys.ts';
import { getApiKeyByHash } from './queries/getApiKeyByHash.ts';
import type { RobotRow } from '../robots/queries/robotRow.ts';
import { getSigningRobot, liveSecrets } from './queries/getSigningRobot.ts';
import { insertNonceIfNew } from './queries/insertNonceIfNew.ts';

/** Who made a request: an API key, or a robot (its row as read when its signature was checked). */
export type Principal = { kind: 'key'; keyId: string; role: Role; name: string } | { kind: 'robot'; robot: RobotRow };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Robots' request bodies are small JSON; more than this is refused before it is hashed. */
const maxSignedBodyBytes = 64 * 1024;

/** preHandler: a Bearer API key with one of `roles`. */
export function requireKey(ctx: Context, ...roles: Role[]): preHandlerHookHandler {
  return guardedBy('apiKey', async (request) => {
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
  }, roles);
}

/** The caller's key, on routes behind requireKey. */
export function keyOf(request: FastifyRequest): Extract<Principal, { kind: 'key' }> {
  if (request.principal?.kind !== 'key') throw errors.unauthorized();
  return request.principal;
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

/**
 * preParsing: verifies a robot's RFC 9421 signature over method, target URI and body digest,
 * refuses replays (nonce seen before) and stale `created`, then hands the body on to the parser.
 */
export function requireRobotSignature(ctx: Context): preParsingHookHandler {
  return guardedBy('robotSignature', async (request, _reply, payload) => {
    const body = await readBody(payload);
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
    const now = ctx.clock.now();
    let signer = ctx.recentRobots.get(parsed.keyId);
    // Not matching what this process read: a secret issued since (perhaps through another process) is looked up before refusing.
    if (!signer || !signatureMatches(parsed, liveSecrets(signer, now))) {
      signer = await getSigningRobot(ctx.db, { robotId: parsed.keyId, now });
      if (signer) ctx.recentRobots.set(parsed.keyId, signer);
    }
    if (!signer || !signatureMatches(parsed, liveSecrets(signer, now))) throw errors.badSignature('the signature does not match this request for that robot and secret');
    const fresh = await insertNonceIfNew(ctx.db, {
      robotId: parsed.keyId,
      nonce: parsed.nonce,
      expiresAt: new Date((parsed.created + 2 * maxClockSkewSeconds) * 1000),
    });
    if (!fresh) throw errors.badSignature('this nonce was used before (replay)');
    request.principal = { kind: 'robot', robot: signer.robot };
    const replay = Readable.from(body.length ? [body] : []);
    (replay as unknown as { receivedEncodedLength: number }).receivedEncodedLength = body.length;
    return replay;
  });
}
