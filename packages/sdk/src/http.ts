import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { parseDuration } from '@refinery/protocol';
import { request, type Dispatcher } from 'undici';
import { RefineryError, retryAfterMs } from './errors.ts';

/** The fetch function the clients call; `requestFetch` unless a test or a proxy gives another. */
export type Fetch = typeof fetch;

/** Statuses whose answer has no body, which a Response cannot be built with. */
const bodilessStatuses = new Set([101, 103, 204, 205, 304]);

/** Whether an answer to `method` with `status` has no body. */
const isBodiless = (method: string, status: number) => method === 'HEAD' || bodilessStatuses.has(status);

/**
 * The clients' default Fetch: fetch's contract (a WHATWG Response, redirects followed) over
 * undici's `request`, which skips fetch's Request object and header guards: a loopback round trip
 * takes about half as long as with Node's global fetch (docs/internals/0009-sdk-http-over-undici.md).
 * The clients' JSON calls skip even the Response when it is the fetch in use (callJson); files and
 * streams go through it.
 */
export const requestFetch: Fetch = async (input, init = {}) => {
  if (input instanceof Request) throw new TypeError('requestFetch takes a URL, not a Request');
  const method = init.method ?? 'GET';
  const answer = await request(String(input), {
    method: method as Dispatcher.HttpMethod,
    headers: init.headers === undefined ? undefined : Object.fromEntries(new Headers(init.headers)),
    body: (init.body ?? null) as string | Readable | null,
    signal: init.signal ?? undefined,
    maxRedirections: 20,
  });
  const bodiless = isBodiless(method, answer.statusCode);
  if (bodiless) await answer.body.dump();
  return responseOf(answer, bodiless ? null : (Readable.toWeb(answer.body) as ReadableStream<Uint8Array>));
};

/** undici's answer as a WHATWG Response, with `body` for its body. */
function responseOf(answer: Dispatcher.ResponseData, body: BodyInit | null): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) headers.append(name, v);
  }
  return new Response(body, { status: answer.statusCode, statusText: STATUS_CODES[answer.statusCode], headers });
}

/** A call whose answer is JSON, or nothing. */
export interface JsonCall {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Called with the answer's headers when it is 2xx, before its body is read. */
  onAnswer?: (header: (name: string) => string | undefined) => void;
}

/**
 * Makes a call whose answer is JSON (or has no body: `null`), throwing a RefineryError unless it
 * is 2xx. With `requestFetch` it goes to undici's `request` and reads the body with its `json()`:
 * building a WHATWG Response and reading it as a web stream, cold at every lease, was most of a
 * robot's time on a lease's answer (docs/internals/0009-sdk-http-over-undici.md). Any other fetch
 * is called as a fetch.
 */
export async function callJson<T>(fetchImpl: Fetch, url: string, call: JsonCall): Promise<T | null> {
  if (fetchImpl !== requestFetch) {
    const response = await fetchOk(fetchImpl, url, call);
    call.onAnswer?.((name) => response.headers.get(name) ?? undefined);
    return isBodiless(call.method, response.status) ? null : ((await response.json()) as T);
  }
  const answer = await request(url, { method: call.method as Dispatcher.HttpMethod, headers: call.headers, body: call.body ?? null, signal: call.signal, maxRedirections: 20 });
  const bodiless = isBodiless(call.method, answer.statusCode);
  if (answer.statusCode < 200 || answer.statusCode > 299) throw await errorFrom(responseOf(answer, bodiless ? null : await answer.body.text()));
  call.onAnswer?.((name) => {
    const value = answer.headers[name];
    return Array.isArray(value) ? value[0] : value;
  });
  if (bodiless) {
    await answer.body.dump();
    return null;
  }
  return (await answer.body.json()) as T;
}

/** Query parameters; `undefined` ones are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/**
 * A duration as the API takes it: ISO 8601 (`'PT10M'`), or seconds (`600`, `'600'`),
 * exactly as on the wire.
 */
export type Duration = string | number;

/** The wire form of a duration; throws a TypeError for anything that is not one. */
export function durationParam(value: Duration): string {
  const text = String(value);
  if (parseDuration(text) === null) throw new TypeError(`not a duration: ${JSON.stringify(value)} (use ISO 8601 like PT10M, or seconds)`);
  return text;
}

/** Milliseconds in a duration. */
export function durationMs(value: Duration): number {
  return parseDuration(durationParam(value))!;
}

/** `base` + `path` + the query string, normalised the way fetch will send it. */
export function buildUrl(base: string, path: string, query: Query = {}): string {
  const url = new URL(base.replace(/\/+$/, '') + path);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  return url.href;
}

/** `/segment/…` with every segment URL-encoded. */
export function pathOf(...segments: string[]): string {
  return segments.map((s) => `/${encodeURIComponent(s)}`).join('');
}

/** Turns an answer that is not 2xx into a RefineryError, keeping the server's code and message. */
export async function errorFrom(response: Response): Promise<RefineryError> {
  const requestId = response.headers.get('x-request-id') ?? response.headers.get('request-id') ?? undefined;
  const retryAfter = retryAfterMs(response.headers.get('retry-after'));
  const text = await response.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (error && typeof error.code === 'string' && typeof error.message === 'string') {
      return new RefineryError(response.status, error.code, error.message, error.details, requestId, retryAfter);
    }
  } catch {
    // not Refinery's JSON: a proxy's page, a blob store's XML…
  }
  const excerpt = text.trim().slice(0, 300);
  const message = `HTTP ${response.status} ${response.statusText}${excerpt ? `: ${excerpt}` : ''}`;
  return new RefineryError(response.status, `http_${response.status}`, message, undefined, requestId, retryAfter);
}

/** fetch, throwing a RefineryError unless the answer is 2xx. */
export async function fetchOk(fetchImpl: Fetch, url: string, init: RequestInit): Promise<Response> {
  const response = await fetchImpl(url, init);
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** The answer's JSON body. */
export async function jsonOf<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/**
 * A streamed request body with its content type: `application/json` when its first
 * non-blank character is `[` (a JSON array), else `application/x-ndjson` (JSON Lines).
 * Reads only up to that character.
 */
export async function sniffJsonBody(
  chunks: AsyncIterable<Uint8Array | string>,
): Promise<{ contentType: string; body: AsyncIterable<Uint8Array> }> {
  const encoder = new TextEncoder();
  const iterator = chunks[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let first: string | undefined;
  while (first === undefined) {
    const next = await iterator.next();
    if (next.done) break;
    const bytes = typeof next.value === 'string' ? encoder.encode(next.value) : next.value;
    head.push(bytes);
    first = new TextDecoder().decode(bytes).replace(/^[\s\uFEFF]+/, '')[0];
  }
  async function* body(): AsyncGenerator<Uint8Array> {
    yield* head;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      yield typeof next.value === 'string' ? encoder.encode(next.value) : next.value;
    }
  }
  return { contentType: first === '[' ? 'application/json' : 'application/x-ndjson', body: body() };
}

/**
 * Request-init fields for a body fetch pulls while it sends (chunked). Node's fetch takes
 * any async iterable of bytes with `duplex: 'half'`; the DOM typings do not know that.
 */
export function streamedBody(chunks: AsyncIterable<Uint8Array>): { body: BodyInit; duplex: 'half' } {
  return { body: chunks as unknown as BodyInit, duplex: 'half' };
}
