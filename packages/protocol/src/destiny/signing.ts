/**
 * DESTINY's robot signature, byte for byte as destiny_sdk makes it (`auth.create_signature`,
 * `client.HMACSigningAuth`): HMAC-SHA256, keyed with the UTF-8 bytes of the robot's secret, over
 *
 *   <the request body's bytes> ":" <the client id's 16 raw bytes> ":" <Python's text of the float timestamp>
 *
 * in lowercase hex, sent as `Authorization: Signature <hex>`, `X-Client-Id: <robot id>` and
 * `X-Request-Timestamp: <the same timestamp text>`. Method, path and query are not signed.
 */
import { createHmac } from 'node:crypto';

/** How far a timestamp may be from the server's clock, either way (DESTINY: 300 s into the past only). */
export const destinyMaxSkewSeconds = 300;

/**
 * Python's `repr()` (and `str()`) of a float: the shortest digits that read back as the same
 * number, like JavaScript's, but with `.0` on whole numbers and an exponent below 1e-4 and from
 * 1e16 on (`1718000000.0`, `1.5e-05`, `1e+16`). The SDK signs `f"{time.time()}"`, so a timestamp
 * that falls on a whole second is signed as `1718000000.0`, never `1718000000`.
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // toExponential() without an argument gives the shortest round-trip digits.
  const [mantissa, exponentText] = x.toExponential().split('e');
  const exponent = Number(exponentText);
  const sign = x < 0 ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exponent < -4 || exponent >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${sign}${whole}.${fraction || '0'}`;
}

/** The signature (lowercase hex) of `body` by `clientId` at `timestamp`, the text as signed and sent. */
export function destinySignature(secret: string, body: Uint8Array | string, clientId: string, timestamp: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .update(':')
    .update(Buffer.from(clientId.replaceAll('-', ''), 'hex'))
    .update(':')
    .update(timestamp)
    .digest('hex');
}

/**
 * The three headers destiny_sdk adds to a request; `timestamp` in seconds, now by default, to the
 * microsecond as Python's `time.time()` (two calls in one millisecond are two signatures: Refinery
 * accepts each signature once).
 */
export function signDestinyRequest(input: { clientId: string; secret: string; body?: Uint8Array | string; timestamp?: number }): Record<'authorization' | 'x-client-id' | 'x-request-timestamp', string> {
  const timestamp = pythonFloatRepr(input.timestamp ?? (performance.timeOrigin + performance.now()) / 1000);
  return {
    authorization: `Signature ${destinySignature(input.secret, input.body ?? '', input.clientId, timestamp)}`,
    'x-client-id': input.clientId.toLowerCase(),
    'x-request-timestamp': timestamp,
  };
}
