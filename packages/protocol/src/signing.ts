/**
 * Robot request signatures: HTTP Message Signatures (RFC 9421) with HMAC-SHA256,
 * over "@method" "@target-uri" "content-digest" (RFC 9530), as SPEC.md lays out.
 * Used by the SDK to sign and by the server to verify; both build the same base here.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseDictionary, serializeInnerList, type InnerList, type Item } from 'structured-headers';

export const coveredComponents = ['@method', '@target-uri', 'content-digest'] as const;
export const signatureAlgorithm = 'hmac-sha256';
export const maxClockSkewSeconds = 300;
export const minNonceBytes = 16;

export function contentDigest(body: Uint8Array | string = ''): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

interface SignatureParams {
  created: number;
  nonce: string;
  keyid: string;
  alg: string;
}

function signatureParamsValue(params: SignatureParams): string {
  const list: InnerList = [
    coveredComponents.map((c): Item => [c, new Map()]),
    new Map<string, string | number>([
      ['created', params.created],
      ['nonce', params.nonce],
      ['keyid', params.keyid],
      ['alg', params.alg],
    ]),
  ];
  return serializeInnerList(list);
}

export function signatureBase(method: string, targetUri: string, digest: string, paramsValue: string): string {
  return [
    `"@method": ${method.toUpperCase()}`,
    `"@target-uri": ${targetUri}`,
    `"content-digest": ${digest}`,
    `"@signature-params": ${paramsValue}`,
  ].join('\n');
}

function hmac(secret: string, base: string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(base).digest();
}

export interface SignInput {
  method: string;
  url: string;
  body?: Uint8Array | string;
  keyId: string;
  secret: string;
  /** Unix seconds; now by default. */
  created?: number;
  nonce?: string;
}

/** The three headers a robot adds to a request. */
export function signRequest(input: SignInput): Record<'content-digest' | 'signature-input' | 'signature', string> {
  const digest = contentDigest(input.body ?? '');
  const params: SignatureParams = {
    created: input.created ?? Math.floor(Date.now() / 1000),
    nonce: input.nonce ?? randomBytes(minNonceBytes).toString('base64url'),
    keyid: input.keyId,
    alg: signatureAlgorithm,
  };
  const paramsValue = signatureParamsValue(params);
  const signature = hmac(input.secret, signatureBase(input.method, input.url, digest, paramsValue)).toString('base64');
  return { 'content-digest': digest, 'signature-input': `sig1=${paramsValue}`, signature: `sig1=:${signature}:` };
}

export class SignatureError extends Error {}

/** What a signed request claims, parsed and checked for form (not yet for the key). */
export interface ParsedSignature {
  keyId: string;
  created: number;
  nonce: string;
  base: string;
  signature: Buffer;
}

/**
 * Parses and checks a request's signature headers against the request itself:
 * the covered components, the algorithm, the digest of the body, the clock.
 * Throws SignatureError with a message a robot author can act on.
 */
export function parseSignedRequest(req: {
  method: string;
  targetUri: string;
  body: Uint8Array | string;
  headers: Record<string, string | string[] | undefined>;
  nowSeconds: number;
}): ParsedSignature {
  const header = (name: string) => {
    const v = req.headers[name];
    if (v === undefined) throw new SignatureError(`missing ${name} header`);
    return Array.isArray(v) ? v.join(', ') : v;
  };
  let inputs, signatures;
  try {
    inputs = parseDictionary(header('signature-input'));
    signatures = parseDictionary(header('signature'));
  } catch (err) {
    if (err instanceof SignatureError) throw err;
    throw new SignatureError('signature-input or signature is not a valid structured field');
  }
  const [label] = [...inputs.keys()];
  if (label === undefined || inputs.size !== 1) throw new SignatureError('signature-input must hold exactly one signature');
  const input = inputs.get(label)!;
  const sig = signatures.get(label);
  if (!Array.isArray(input[0])) throw new SignatureError('signature-input must be an inner list of components');
  if (!sig || !(sig[0] instanceof ArrayBuffer)) throw new SignatureError(`signature has no byte sequence labelled ${label}`);
  const covered = (input[0] as Item[]).map((i) => i[0]);
  if (covered.length !== coveredComponents.length || coveredComponents.some((c, i) => covered[i] !== c)) {
    throw new SignatureError(`signature must cover ${coveredComponents.map((c) => `"${c}"`).join(' ')}`);
  }
  const p = input[1];
  const created = p.get('created');
  const nonce = p.get('nonce');
  const keyid = p.get('keyid');
  const alg = p.get('alg');
  if (typeof created !== 'number' || !Number.isInteger(created)) throw new SignatureError('created must be an integer (unix seconds)');
  if (typeof nonce !== 'string' || Buffer.from(nonce, 'base64url').length < minNonceBytes) {
    throw new SignatureError(`nonce must be at least ${minNonceBytes} random bytes, base64url`);
  }
  if (typeof keyid !== 'string') throw new SignatureError('keyid must be the robot id');
  if (alg !== signatureAlgorithm) throw new SignatureError(`alg must be "${signatureAlgorithm}"`);
  if (Math.abs(req.nowSeconds - created) > maxClockSkewSeconds) {
    throw new SignatureError(`created is more than ${maxClockSkewSeconds} s away from the server's clock`);
  }
  const digest = header('content-digest');
  if (digest !== contentDigest(req.body)) throw new SignatureError('content-digest does not match the body');
  const paramsValue = signatureParamsValue({ created, nonce, keyid, alg });
  return {
    keyId: keyid,
    created,
    nonce,
    base: signatureBase(req.method, req.targetUri, digest, paramsValue),
    signature: Buffer.from(sig[0] as ArrayBuffer),
  };
}

/** True when one of the secrets produced the signature. */
export function signatureMatches(parsed: ParsedSignature, secrets: readonly string[]): boolean {
  return secrets.some((secret) => {
    const expected = hmac(secret, parsed.base);
    return expected.length === parsed.signature.length && timingSafeEqual(expected, parsed.signature);
  });
}
