import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { destiny, uuidPattern } from '@refinery/protocol';
import { findSigner, insertNonceIfNew } from '../auth/index.ts';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import type { RobotRow } from '../robots/index.ts';

/** A number as Python's `float()` reads the SDK's `time.time()` text (no `inf`, `nan` or `_`). */
const timestampPattern = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Verifies DESTINY's robot signature over the raw body (docs/destiny.md), in DESTINY's order and
 * with its messages, and returns the signing robot. Stricter than DESTINY where no SDK robot can
 * tell: the timestamp may be at most 300 s away from the server's clock in either direction (not
 * only into the past), must be a finite number, and a signature is accepted once (a replay of it
 * is refused). The timestamp is verified as DESTINY does, as Python's text of the number read
 * (`1718000000` is signed as `1718000000.0`).
 */
export async function verifyDestinySignature(ctx: Context, headers: IncomingHttpHeaders, body: Buffer): Promise<RobotRow> {
  const authorization = header(headers, 'authorization');
  if (!authorization) throw errors.badSignature('Authorization header missing.');
  const space = authorization.indexOf(' ');
  const scheme = space === -1 ? authorization : authorization.slice(0, space);
  const signature = space === -1 ? '' : authorization.slice(space + 1);
  if (scheme !== 'Signature') throw errors.badSignature('Authorization type not supported: send "Authorization: Signature <hex>", or sign with RFC 9421.');
  const clientId = header(headers, 'x-client-id');
  if (!clientId) throw errors.badSignature('X-Client-Id header missing.');
  if (!uuidPattern.test(clientId)) throw errors.badSignature('Invalid format for client id, expected the robot id (a UUID).');
  const timestampText = header(headers, 'x-request-timestamp');
  if (!timestampText) throw errors.badSignature('X-Request-Timestamp header missing.');
  const timestamp = Number(timestampText);
  if (!timestampPattern.test(timestampText) || !Number.isFinite(timestamp)) throw errors.badSignature('X-Request-Timestamp must be a number of seconds since 1970 (Python time.time()).');
  const age = ctx.clock.now().getTime() / 1000 - timestamp;
  if (age > destiny.destinyMaxSkewSeconds) throw errors.badSignature(`Token is expired: X-Request-Timestamp is more than ${destiny.destinyMaxSkewSeconds} s old.`);
  if (-age > destiny.destinyMaxSkewSeconds) throw errors.badSignature(`X-Request-Timestamp is more than ${destiny.destinyMaxSkewSeconds} s ahead of the server's clock.`);
  const signed = destiny.pythonFloatRepr(timestamp);
  const robotId = clientId.toLowerCase();
  const signer = await findSigner(ctx, robotId, (secrets) => secrets.some((secret) => sameText(destiny.destinySignature(secret, body, robotId, signed), signature)));
  if (!signer) throw errors.badSignature(`Signature is invalid: no robot ${robotId} has a secret that signs this request so.`);
  const fresh = await insertNonceIfNew(ctx.db, { robotId, nonce: `destiny:${signature}`, expiresAt: new Date((timestamp + 2 * destiny.destinyMaxSkewSeconds) * 1000) });
  if (!fresh) throw errors.badSignature('This signature was used before (a replay): sign every request afresh.');
  return signer.robot;
}
