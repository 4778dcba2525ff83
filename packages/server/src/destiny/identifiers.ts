import { destiny, Identifier } from '@refinery/protocol';
import { errors } from '../errors.ts';
import { strictAjv } from '../http/index.ts';

type RefineryIdentifier = { type: string; value: string };

const patterns = Object.fromEntries(Object.entries(destiny.identifierPatterns).map(([type, pattern]) => [type, new RegExp(pattern, 'u')])) as Record<string, RegExp>;
const isRefineryIdentifier = strictAjv().compile(Identifier);

/**
 * A Refinery identifier as DESTINY's `ExternalIdentifier` (referenceLineSql does the same in SQL):
 * of DESTINY's type when its type is one of DESTINY's and its value has that type's form (a
 * `pm_id` is a positive integer of at most 15 digits), otherwise `other`, named by its type.
 */
export function toDestinyIdentifier(i: RefineryIdentifier): destiny.ExternalIdentifier {
  if (i.type === 'pm_id' && /^[1-9][0-9]{0,14}$/.test(i.value)) return { identifier_type: 'pm_id', identifier: Number(i.value) };
  if (patterns[i.type]?.test(i.value)) return { identifier_type: i.type, identifier: i.value } as destiny.ExternalIdentifier;
  return { identifier_type: 'other', identifier: i.value, other_identifier_name: i.type };
}

/**
 * DESTINY's identifier as a Refinery identifier: `{type: identifier_type, value}`, an `other` as
 * `{type: other_identifier_name, value}`. toDestinyIdentifier reads it back as it was, but for an
 * `other` named after one of DESTINY's types with a value of that type's form, which comes back
 * as that type. 422 when an `other`'s name cannot be a Refinery identifier type.
 */
export function fromDestinyIdentifier(d: destiny.ExternalIdentifier): RefineryIdentifier {
  const identifier = d.identifier_type === 'other' ? { type: d.other_identifier_name, value: d.identifier } : { type: d.identifier_type, value: String(d.identifier) };
  if (!isRefineryIdentifier(identifier)) {
    throw errors.of('invalid_identifier', `identifier ${JSON.stringify(d)} has no Refinery form: an identifier type is 1 to 64 letters, digits, "_", "." or "-"`);
  }
  return identifier;
}
