import { Readable } from 'node:stream';
import type { Static } from 'typebox';
import {
  requestFinalStatuses,
  type ApiKeyIn,
  type AutomationIn,
  type AutomationOut,
  type ApiKeyOut,
  type ImportRecordsResult,
  type ItemOut,
  type ItemStatus,
  type ProvisionedApiKey,
  type ProvisionedRobot,
  type RecordIn,
  type RecordCount,
  type RecordFilter,
  type RecordOut,
  type RecordTypeOut,
  type RecordWithEnhancements,
  type RequestBatchOut,
  type RequestEventData,
  type RequestEventType,
  type RequestIn,
  type RequestOut,
  type RequestStatus,
  type RetentionIn,
  type RetryIn,
  type RevokedApiKey,
  type RobotIn,
  type RobotOut,
  type RobotPatch,
} from '@refinery/protocol';
import { isTransient } from './errors.ts';
import { buildUrl, callJson, durationParam, fetchOk, jsonOf, pathOf, requestFetch, sniffJsonBody, streamedBody, type Duration, type Fetch, type Query } from './http.ts';
import { encodeJsonLines } from './jsonl.ts';
import { Backoff, sleep } from './retry.ts';
import { parseServerSentEvents } from './sse.ts';

/** One page of a list, and the cursor of the next one (null on the last). */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface PageOptions {
  /** `next_cursor` of the previous page; the first page without it. */
  cursor?: string;
  /** Items per page, 1–1000; the server's default (100) when omitted. */
  limit?: number;
}

export type RequestBatch = Static<typeof RequestBatchOut>;
export type NewApiKey = Static<typeof ApiKeyIn>;
export type ApiKey = Static<typeof ApiKeyOut>;

export interface RefineryClientOptions {
  /** Refinery's base URL, e.g. `http://localhost:8080`. */
  url: string;
  /** An API key (role `admin` or `requester`), sent as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** Defaults to `requestFetch` (fetch's contract over undici's `request`). */
  fetch?: Fetch;
}

/** One event of a request, as `streamRequestEvents` yields it. */
export interface RequestEvent {
  /** The event id (also the webhook's `webhook-id`); pass it as `lastEventId` to resume after it. */
  id: string;
  type: RequestEventType | (string & {});
  data: RequestEventData;
}

export interface WatchOptions {
  /** Time between two polls, in milliseconds. Default 1000. */
  intervalMs?: number;
  /** Stops watching: the iteration (or the wait) rejects with the abort reason. */
  signal?: AbortSignal;
}

/** True for the statuses a request never leaves. */
export function isFinalRequestStatus(status: RequestStatus): boolean {
  return (requestFinalStatuses as readonly RequestStatus[]).includes(status);
}

/**
 * The client of requesters and admins. Each method makes one call and throws a
 * RefineryError for an error answer; only `watchRequest`/`waitForRequest` retry (transient
 * failures, with backoff) since they are meant to run for long.
 */
export class RefineryClient {
  readonly url: string;
  readonly #apiKey: string;
  readonly #fetch: Fetch;

  constructor(options: RefineryClientOptions) {
    this.url = options.url;
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? requestFetch;
  }

  // ── records ────────────────────────────────────────────────────────────────

  /**
   * Upserts records (by identifier), streaming them as the request body: records (an array
   * or any async iterable) are sent as JSONL; a Node Readable is sent byte for byte, as a
   * JSON array when it starts with `[`, else as JSONL. Returns the ids in the order sent.
   */
  async importRecords(
    source: AsyncIterable<RecordIn> | Iterable<RecordIn> | Readable,
    options: { signal?: AbortSignal } = {},
  ): Promise<ImportRecordsResult> {
    const { contentType, body } =
      source instanceof Readable
        ? await sniffJsonBody(source)
        : { contentType: 'application/x-ndjson', body: encodeJsonLines(source) };
    const response = await fetchOk(this.#fetch, buildUrl(this.url, '/v1/records'), {
      method: 'POST',
      headers: { ...this.#auth(), 'content-type': contentType },
      ...streamedBody(body),
      signal: options.signal,
    });
    return jsonOf(response);
  }

  /** The record with all its enhancements. */
  getRecord(id: string): Promise<RecordWithEnhancements> {
    return this.#json('GET', pathOf('v1', 'records', id));
  }

  /** Records, filtered by `type` and/or one identifier (`'doi:10.1000/xyz'`). */
  listRecords(options: PageOptions & { type?: string; identifier?: string } = {}): Promise<Page<RecordOut>> {
    return this.#json('GET', '/v1/records', { query: { ...options } });
  }

  /** Every record that `listRecords` finds, page after page (`limit` is the page size). */
  iterateRecords(options: Omit<PageOptions, 'cursor'> & { type?: string; identifier?: string } = {}): AsyncGenerator<RecordOut> {
    return allPages((cursor) => this.listRecords({ ...options, cursor }));
  }

  /**
   * Records that match a query: a Lucene-style string (`type:reference AND content.year:>=2020`)
   * or the same as a RecordFilter (docs/queries.md). One page; `iterateSearch` walks them all.
   */
  searchRecords(query: string | RecordFilter, options: PageOptions = {}): Promise<Page<RecordOut>> {
    return this.#json('POST', '/v1/records/search', { body: { ...queryBody(query), ...options } });
  }

  /** Every record that `searchRecords` finds, page after page (`limit` is the page size). */
  iterateSearch(query: string | RecordFilter, options: Omit<PageOptions, 'cursor'> = {}): AsyncGenerator<RecordOut> {
    return allPages((cursor) => this.searchRecords(query, { ...options, cursor }));
  }

  /** How many records match a query; `lower_bound` past the server's cap (REFINERY_SEARCH_COUNT_CAP). */
  countRecords(query: string | RecordFilter): Promise<RecordCount> {
    return this.#json('POST', '/v1/records/search', { body: { ...queryBody(query), count_only: true } });
  }

  // ── record types ───────────────────────────────────────────────────────────

  /** The record types that carry a retention policy (docs/retention.md). */
  listRecordTypes(): Promise<{ data: RecordTypeOut[] }> {
    return this.#json('GET', '/v1/record-types');
  }

  /** A record type's retention policy (`retention: null`: its records never age out). */
  getRecordType(type: string): Promise<RecordTypeOut> {
    return this.#json('GET', pathOf('v1', 'record-types', type));
  }

  /** Sets a record type's retention policy, or with `null` removes it (admin). */
  setRecordTypeRetention(type: string, retention: RetentionIn | null): Promise<RecordTypeOut> {
    return this.#json('PUT', pathOf('v1', 'record-types', type), { body: { retention } });
  }

  /** Marks a record type encrypted: its records' content is stored encrypted from now on, and the records stored before are encrypted in the background (admin; docs/encryption.md). */
  encryptRecordType(type: string): Promise<RecordTypeOut> {
    return this.#json('PUT', pathOf('v1', 'record-types', type), { body: { encrypted: true } });
  }

  // ── robots (admin) ─────────────────────────────────────────────────────────

  /** Registers a robot. The answer holds its `secret`, which is never shown again. */
  createRobot(robot: RobotIn): Promise<ProvisionedRobot> {
    return this.#json('POST', '/v1/robots', { body: robot });
  }

  getRobot(id: string): Promise<RobotOut> {
    return this.#json('GET', pathOf('v1', 'robots', id));
  }

  listRobots(options: PageOptions = {}): Promise<Page<RobotOut>> {
    return this.#json('GET', '/v1/robots', { query: { ...options } });
  }

  /** Changes a robot; `{active: false}` pauses it. */
  updateRobot(id: string, patch: RobotPatch): Promise<RobotOut> {
    return this.#json('PATCH', pathOf('v1', 'robots', id), { body: patch });
  }

  /** Pauses a robot: it leases nothing, and new requests for it are refused, until it is resumed. */
  pauseRobot(id: string): Promise<RobotOut> {
    return this.updateRobot(id, { active: false });
  }

  /** Resumes a paused robot. */
  resumeRobot(id: string): Promise<RobotOut> {
    return this.updateRobot(id, { active: true });
  }

  /**
   * A new secret for the robot (in `secret`, shown once). The previous one keeps working
   * for `grace` (the server's default, PT1H, when omitted).
   */
  rotateRobotSecret(id: string, options: { grace?: Duration } = {}): Promise<ProvisionedRobot> {
    const body = options.grace === undefined ? {} : { grace: durationParam(options.grace) };
    return this.#json('POST', pathOf('v1', 'robots', id, 'secrets'), { body });
  }

  // ── requests ───────────────────────────────────────────────────────────────

  /**
   * Asks a robot to enhance records: those of `record_ids`, or every one a `query` (a Lucene-style
   * string) or `filter` (a RecordFilter) matches (docs/queries.md). Refinery answers 202 with the
   * request at once and works later. With the same `idempotencyKey`, a repeated call returns the
   * first request. With `dry_run` (and a query or filter) it answers how many records match, and
   * creates nothing.
   */
  createRequest(request: RequestIn & { dry_run: true }, options?: { idempotencyKey?: string }): Promise<RecordCount>;
  createRequest(request: RequestIn, options?: { idempotencyKey?: string }): Promise<RequestOut>;
  createRequest(request: RequestIn, options: { idempotencyKey?: string } = {}): Promise<RequestOut | RecordCount> {
    const headers: Record<string, string> = options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey };
    return this.#json('POST', '/v1/requests', { body: request, headers });
  }

  /** Status, counts by item status, progress, timestamps and (once final) the manifest link. */
  getRequest(id: string, options: { signal?: AbortSignal } = {}): Promise<RequestOut> {
    return this.#json('GET', pathOf('v1', 'requests', id), { signal: options.signal });
  }

  /** Requests, newest first (a requester's key sees its own). */
  listRequests(options: PageOptions & { status?: RequestStatus; robot_id?: string } = {}): Promise<Page<RequestOut>> {
    return this.#json('GET', '/v1/requests', { query: { ...options } });
  }

  /** Cancels every item not yet finished. */
  cancelRequest(id: string): Promise<RequestOut> {
    return this.#json('POST', pathOf('v1', 'requests', id, 'cancel'));
  }

  /**
   * Retries a finished request's failed items (all, or `record_ids`) as a new request, which
   * names the original in `retry_of` (docs/retrying-requests.md). Calling it again returns the
   * same retry; a request still running, one without failed items, or a `record_ids` that names
   * an item that is not failed is refused with 409.
   */
  retryRequest(id: string, options: RetryIn = {}): Promise<RequestOut> {
    return this.#json('POST', pathOf('v1', 'requests', id, 'retry'), { body: options });
  }

  /** One page of the request's items: each one's status, attempts and error. */
  listRequestItems(id: string, options: PageOptions & { status?: ItemStatus } = {}): Promise<Page<ItemOut>> {
    return this.#json('GET', pathOf('v1', 'requests', id, 'items'), { query: { ...options } });
  }

  /** Every item of the request, page after page (`limit` is the page size). */
  iterateRequestItems(id: string, options: Omit<PageOptions, 'cursor'> & { status?: ItemStatus } = {}): AsyncGenerator<ItemOut> {
    return allPages((cursor) => this.listRequestItems(id, { ...options, cursor }));
  }

  /** The batches the request's items went out in, with links to their validation reports. */
  listRequestBatches(id: string, options: PageOptions = {}): Promise<Page<RequestBatch>> {
    return this.#json('GET', pathOf('v1', 'requests', id, 'batches'), { query: { ...options } });
  }

  /**
   * The request as it moves: one snapshot per poll, the last one final. Transient failures
   * (network, 5xx) are retried with backoff and yield nothing.
   */
  async *watchRequest(id: string, options: WatchOptions = {}): AsyncGenerator<RequestOut> {
    const intervalMs = options.intervalMs ?? 1000;
    const backoff = new Backoff(intervalMs);
    for (;;) {
      options.signal?.throwIfAborted();
      let request: RequestOut;
      try {
        request = await this.getRequest(id, { signal: options.signal });
      } catch (err) {
        if (!isTransient(err) || options.signal?.aborted) throw err;
        await sleep(backoff.next(), options.signal);
        continue;
      }
      backoff.reset();
      yield request;
      if (isFinalRequestStatus(request.status)) return;
      await sleep(intervalMs, options.signal);
    }
  }

  /** Polls until the request is final and returns it; `onProgress` sees every snapshot. */
  async waitForRequest(id: string, options: WatchOptions & { onProgress?: (request: RequestOut) => void } = {}): Promise<RequestOut> {
    let last: RequestOut | undefined;
    for await (const request of this.watchRequest(id, options)) {
      options.onProgress?.(request);
      last = request;
    }
    return last!;
  }

  /**
   * The request's events as they happen (`GET /v1/requests/{id}/events`, Server-Sent Events):
   * `request.started`, `request.progress` (throttled), and `request.finished` last, after which
   * the iteration ends. `lastEventId` resumes after that event. A dropped connection is reopened
   * (after a backoff) from the last event seen, so no event is missed or repeated.
   */
  async *streamRequestEvents(id: string, options: { lastEventId?: string; signal?: AbortSignal } = {}): AsyncGenerator<RequestEvent> {
    let lastEventId = options.lastEventId;
    const backoff = new Backoff(500);
    for (;;) {
      options.signal?.throwIfAborted();
      let response: Response;
      try {
        response = await fetchOk(this.#fetch, buildUrl(this.url, pathOf('v1', 'requests', id, 'events')), {
          headers: { ...this.#auth(), accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
          signal: options.signal,
        });
      } catch (err) {
        if (!isTransient(err) || options.signal?.aborted) throw err;
        await sleep(backoff.next(), options.signal);
        continue;
      }
      try {
        for await (const e of parseServerSentEvents(response.body!)) {
          backoff.reset();
          if (e.id) lastEventId = e.id;
          const event: RequestEvent = { id: e.id ?? '', type: e.event, data: JSON.parse(e.data) as RequestEventData };
          yield event;
          if (event.type === 'request.finished') return;
        }
        // Ended without the final event: the request was already final (nothing more to come),
        // or the server went away (a restart): then follow on from the last event seen.
        if (isFinalRequestStatus((await this.getRequest(id, { signal: options.signal })).status)) return;
      } catch (err) {
        if (options.signal?.aborted || err instanceof SyntaxError) throw err;
        await sleep(backoff.next(), options.signal);
      }
    }
  }

  // ── automations ────────────────────────────────────────────────────────────

  /**
   * Adds an automation (docs/automations.md): records an import touches that fire its `trigger`
   * (and match its `query`) become items of a request for its robot. A bad query is refused with
   * 400, an unknown or paused robot and a cycle of automations with 422.
   */
  createAutomation(automation: AutomationIn): Promise<AutomationOut> {
    return this.#json('POST', '/v1/automations', { body: automation });
  }

  /** The automation and what it triggered: requests, items, matches waiting, the last error. */
  getAutomation(id: string): Promise<AutomationOut> {
    return this.#json('GET', pathOf('v1', 'automations', id));
  }

  /** Automations in id order (a requester's key sees its own). */
  listAutomations(options: PageOptions & { robot_id?: string } = {}): Promise<Page<Omit<AutomationOut, 'triggered'>>> {
    return this.#json('GET', '/v1/automations', { query: { ...options } });
  }

  /** Every automation, page after page. */
  iterateAutomations(options: Omit<PageOptions, 'cursor'> & { robot_id?: string } = {}): AsyncGenerator<Omit<AutomationOut, 'triggered'>> {
    return allPages((cursor) => this.listAutomations({ ...options, cursor }));
  }

  /** Pauses an automation: what it had gathered is dropped, and nothing more is until it is resumed. */
  pauseAutomation(id: string): Promise<AutomationOut> {
    return this.#json('PATCH', pathOf('v1', 'automations', id), { body: { active: false } });
  }

  /** Resumes a paused automation; refused with 422 if its robot is paused or it would close a cycle. */
  resumeAutomation(id: string): Promise<AutomationOut> {
    return this.#json('PATCH', pathOf('v1', 'automations', id), { body: { active: true } });
  }

  /** Deletes an automation; the requests it made stay. */
  async deleteAutomation(id: string): Promise<void> {
    await this.#json('DELETE', pathOf('v1', 'automations', id));
  }

  /** The calling key's Standard Webhooks secret (`whsec_…`): it signs the webhooks of the requests this key makes. */
  async getWebhookSecret(): Promise<string> {
    return (await this.#json<{ secret: string }>('GET', '/v1/webhook-secret')).secret;
  }

  // ── API keys (admin) ───────────────────────────────────────────────────────

  /** A new API key (role `requester` by default). The answer holds `key`, shown once. */
  createApiKey(key: NewApiKey): Promise<ProvisionedApiKey> {
    return this.#json('POST', '/v1/api-keys', { body: key });
  }

  /** The API keys not revoked (never their values). */
  listApiKeys(): Promise<{ data: ApiKey[] }> {
    return this.#json('GET', '/v1/api-keys');
  }

  /**
   * Revokes an API key: it is refused (401) at once by the Refinery process that revoked it, and
   * within 5 s by any other. Revoking it again returns it unchanged. The last admin key, and the
   * one REFINERY_ADMIN_KEY sets, are refused with 409.
   */
  revokeApiKey(id: string): Promise<RevokedApiKey> {
    return this.#json('DELETE', pathOf('v1', 'api-keys', id));
  }

  // ── plumbing ───────────────────────────────────────────────────────────────

  #auth(): Record<string, string> {
    return { authorization: `Bearer ${this.#apiKey}` };
  }

  async #json<T>(
    method: string,
    path: string,
    options: { query?: Query; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<T> {
    const headers = { ...this.#auth(), ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const json = await callJson<T>(this.#fetch, buildUrl(this.url, path, options.query), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
    return json as T;
  }
}

/** Every item of a cursor-paged list, fetching the next page only when needed. */
function queryBody(query: string | RecordFilter): { query: string } | { filter: RecordFilter } {
  return typeof query === 'string' ? { query } : { filter: query };
}

export async function* allPages<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.data;
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
}
