import { EventSource } from 'eventsource';

/** The signed-in key and who it is (GET /v1/api-keys/me), kept for the browser tab's session. */
export interface Session {
  key: string;
  id: string;
  name: string;
  role: 'admin' | 'requester';
}

const storageKey = 'refinery.session';

export function loadSession(): Session | null {
  const text = sessionStorage.getItem(storageKey);
  return text ? (JSON.parse(text) as Session) : null;
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(storageKey, JSON.stringify(session));
  else sessionStorage.removeItem(storageKey);
}

/** An answer in the API's error shape: `{"error":{"code","message"}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(key: string, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, error?.code ?? 'http_error', error?.message ?? `HTTP ${res.status}`);
  }
  return json as T;
}

export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export type Counts = Record<'pending' | 'leased' | 'importing' | 'completed' | 'discarded' | 'failed' | 'denied' | 'expired' | 'cancelled', number>;

export interface RequestOut {
  id: string;
  robot_id: string;
  requested_by: string;
  priority: string;
  status: string;
  total: number;
  counts: Counts;
  progress: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  manifest_url: string | null;
  retry_of: string | null;
}

/** What request.started and request.progress events carry (docs/events.md). */
export interface ProgressEvent {
  status: string;
  total: number;
  counts: Counts;
}

export const finalItemStatuses = ['completed', 'discarded', 'failed', 'denied', 'expired', 'cancelled'] as const;
export const openRequestStatuses = ['received', 'processing'];

export function progressOf(p: ProgressEvent): number {
  if (p.total === 0) return 1;
  return finalItemStatuses.reduce((sum, s) => sum + p.counts[s], 0) / p.total;
}

/**
 * A request's event stream (GET /v1/requests/{id}/events, Server-Sent Events), with the key in a
 * header, which the browser's own EventSource cannot send. Returns the function that closes it.
 */
export function watchRequest(key: string, id: string, onEvent: (type: string, data: ProgressEvent) => void): () => void {
  const source = new EventSource(`/v1/requests/${encodeURIComponent(id)}/events`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer ${key}` } }),
  });
  for (const type of ['request.started', 'request.progress', 'request.finished']) {
    source.addEventListener(type, (e) => {
      onEvent(type, JSON.parse(e.data) as ProgressEvent);
      if (type === 'request.finished') source.close();
    });
  }
  return () => source.close();
}
