import { contentHash, destiny, type ReportLine, uuidPattern } from '@refinery/protocol';
import type { Verdict } from '../batches/index.ts';
import { mayBeUnstorable, storableText, whyUnstorable } from '../db/index.ts';
import { strictAjv } from '../http/index.ts';

/** Checks DESTINY's tagged unions by their tag, so an error names the field that is wrong in the variant meant. */
const ajv = strictAjv({ discriminator: true });
const validateEnhancement = ajv.compile(destiny.Enhancement);
const validateRobotError = ajv.compile(destiny.LinkedRobotError);
const knownTypes: ReadonlySet<string> = new Set(destiny.enhancementTypes);

function firstError(errors: typeof validateEnhancement.errors): string {
  const e = errors?.[0];
  if (!e) return 'it is not valid';
  const where = e.instancePath ? e.instancePath.slice(1).replaceAll('/', '.') : 'the line';
  if (e.keyword === 'discriminator') return `${where} has no known ${(e.params as { tag: string }).tag}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

/**
 * Judges one line of a DESTINY robot's result file (entry `entry`, counting the lines that are not
 * blank), as DESTINY does, in its words: an `Enhancement` of a known type whose content has the
 * form DESTINY's models give it, or a `LinkedRobotError` (the reference fails with the robot's
 * message), for a reference of the batch. An incoming `id` or `created_at` is ignored, as
 * DESTINY ignores it. A line that cannot be parsed still names its reference when it gives one,
 * so that reference fails with the reason. Never throws.
 */
export function judgeDestinyLine(text: string, entry: number, inBatch: ReadonlyMap<string, string>, produces: ReadonlySet<string>): Verdict {
  const unparsable = (reason: string, recordId?: string): Verdict => ({ reject: `Entry ${entry} could not be parsed: ${reason}.`, ...(recordId && { recordId }) });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // JSON.parse's message quotes the line, which may hold a NUL.
    return unparsable(`it is not JSON (${storableText((err as Error).message)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return unparsable('it is not a JSON object');
  const line = value as Record<string, unknown>;
  const named = typeof line.reference_id === 'string' && uuidPattern.test(line.reference_id) ? line.reference_id.toLowerCase() : undefined;
  // First, so that no message below quotes what cannot be stored.
  const unstorable = mayBeUnstorable(text) ? whyUnstorable(line) : null;
  if (unstorable) return unparsable(`${unstorable.path || 'the line'} ${unstorable.problem}`, named);
  if (!('content' in line) && 'message' in line) {
    if (!validateRobotError(line)) return unparsable(`as a LinkedRobotError, ${firstError(validateRobotError.errors)}`, named);
    if (!inBatch.has(named!)) return { reject: 'Reference not in batch enhancement request.', recordId: named };
    return { robotError: line.message as string, recordId: named!, retryable: false };
  }
  const type = (line.content as { enhancement_type?: unknown } | null)?.enhancement_type;
  if (typeof type === 'string' && !knownTypes.has(type)) {
    return unparsable(`content.enhancement_type "${type}" is not one of DESTINY's enhancement types (${destiny.enhancementTypes.join(', ')})`, named);
  }
  if (!validateEnhancement(line)) return unparsable(`as an Enhancement, ${firstError(validateEnhancement.errors)}`, named);
  if (!inBatch.has(named!)) return { reject: 'Reference not in batch enhancement request.', recordId: named };
  const enhancement = line as destiny.Enhancement;
  const enhancementType = enhancement.content.enhancement_type;
  if (!produces.has(enhancementType)) {
    return {
      reject: enhancementType === 'raw' ? 'Robot is not entitled to return raw enhancements.' : `Robot is not entitled to return ${enhancementType} enhancements.`,
      recordId: named,
    };
  }
  return {
    accept: {
      record_id: named!,
      type: enhancementType,
      content: enhancement.content,
      content_hash: contentHash(enhancement.content),
      robot_version: enhancement.robot_version ?? null,
      derived_from: enhancement.derived_from?.map((id) => id.toLowerCase()) ?? null,
      source: enhancement.source,
      visibility: enhancement.visibility,
    },
  };
}

/** A line of the validation report in DESTINY's form, `RobotResultValidationEntry`: `reference_id` alone means imported. */
export function validationEntry(line: ReportLine): destiny.RobotResultValidationEntry {
  const reference = line.record_id ? { reference_id: line.record_id } : {};
  switch (line.outcome) {
    case 'imported':
      return reference;
    case 'discarded':
      return { ...reference, error: 'Exact duplicate enhancement already exists on reference.' };
    case 'missing':
      return { ...reference, error: 'Requested reference not in enhancement result.' };
    default:
      return { ...reference, error: line.message ?? line.outcome };
  }
}
