import { uuidPattern } from '@refinery/protocol';
import { errors } from '../errors.ts';

/** Cursors are opaque to callers: base64url JSON of the last row's sort key. */
export function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify({ k: key })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof value.k === 'string' || typeof value.k === 'number') return String(value.k);
  } catch {
    // fall through
  }
  throw errors.invalidCursor();
}

/** `{data, next_cursor}` from rows fetched with limit + 1. */
export function page<R>(rows: R[], limit: number, keyOf: (row: R) => string | number): { data: R[]; next_cursor: string | null } {
  const data = rows.slice(0, limit);
  return { data, next_cursor: rows.length > limit ? encodeCursor(keyOf(data[data.length - 1])) : null };
}

export function checkUuidCursor(key: string | null): string | null {
  if (key !== null && !uuidPattern.test(key)) throw errors.invalidCursor();
  return key;
}

export function checkIntCursor(key: string | null): string | null {
  if (key !== null && !/^\d{1,18}$/.test(key)) throw errors.invalidCursor();
  return key;
}
