import type { NewEnhancement } from './queries/insertEnhancements.ts';

/** What becomes of one results line (judgeLine in importResults; DESTINY's: judgeDestinyLine). */
export type Verdict =
  | { accept: Omit<NewEnhancement, 'id' | 'request_id'> }
  | { reject: string; recordId?: string }
  | { robotError: string; recordId: string; retryable: boolean };
