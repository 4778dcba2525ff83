import { errors } from '../errors.ts';
import type { IdentifierConflict } from './queries/findIdentifierConflicts.ts';

/** `1`, `1 and 2`, `1, 2 and 3`. */
function listed(items: string[]): string {
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/**
 * 409 identifier_conflict: which record of the import (or which records, sharing identifiers)
 * names identifiers of which stored records. Every conflict found is in `details.conflicts`.
 */
export function identifierConflictError(conflicts: IdentifierConflict[]) {
  const [first] = conflicts;
  const who = first.records.length === 1 ? `record ${first.records[0]} names` : `records ${listed(first.records.map(String))}, which share identifiers, name`;
  const holders = new Set(first.identifiers.map((i) => i.record_id)).size;
  const named = listed(first.identifiers.map((i) => `${i.type}:${i.value} (record ${i.record_id})`));
  const more = conflicts.length > 1 ? ` (and ${conflicts.length - 1} more conflict${conflicts.length > 2 ? 's' : ''} in details)` : '';
  return errors.identifierConflict(`${who} identifiers of ${holders} different records: ${named}; nothing was imported${more}`, { conflicts });
}
