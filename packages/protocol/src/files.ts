import type { Identifier } from './schemas/records.ts';
import type { ItemStatus } from './states.ts';

/** One line of a batch's items file (what the robot reads). */
export interface ItemsLine {
  record: {
    id: string;
    type: string;
    identifiers: Identifier[];
    content: unknown;
    enhancements: Array<{ id: string; type: string; content: unknown; robot_id: string; created_at: string }>;
  };
}

/** One line of a results file (what the robot writes): an enhancement, or a per-record error. */
export type ResultLine =
  | { record_id: string; type: string; content: unknown; robot_version?: string; derived_from?: string[] }
  | { record_id: string; error: { message: string; retryable?: boolean } };

export const reportOutcomes = ['imported', 'discarded', 'rejected', 'missing', 'robot_error'] as const;
export type ReportOutcome = (typeof reportOutcomes)[number];

/** One line of a validation report: one per results line, plus one per item never answered. */
export interface ReportLine {
  line?: number;
  record_id?: string;
  outcome: ReportOutcome;
  message?: string;
}

/** One line of a request manifest, written once when the request finishes. */
export interface ManifestLine {
  record_id: string;
  status: ItemStatus;
  enhancement_ids: string[];
  error?: { code: string; message: string };
}

/** Longest results line Refinery reads, in bytes; a longer one is rejected. */
export const maxResultLineBytes = 1024 * 1024;
