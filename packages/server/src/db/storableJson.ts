/**
 * Parsed JSON that PostgreSQL cannot store as it is. JSON.parse accepts all of these, but jsonb
 * refuses a `\u0000` and a lone surrogate (`\ud800`) in any string or key, text columns refuse a
 * NUL, a number past ±1.8e308 was read as Infinity (stored it would become null), and nesting
 * past a few thousand levels overflows the stack of whatever walks the value next (hashing,
 * JSON.stringify, PostgreSQL's own parser).
 */

/** Deepest nesting of objects and arrays accepted in one value. */
export const maxJsonDepth = 512;

/** A NUL, or a surrogate that is not half of a pair (with the `u` flag a pair is one code point). */
const unstorableChar = /[\0\p{Cs}]/u;

/** The path of a value inside the one checked: `content.authors[2].name`. */
interface Place {
  parent: Place | null;
  key: string | number;
}

/** `a.b[2]["odd key"]`; '' for the value itself. */
function pathOf(place: Place | null): string {
  const parts: string[] = [];
  for (let p = place; p; p = p.parent) {
    if (typeof p.key === 'number') parts.push(`[${p.key}]`);
    else parts.push(/^[A-Za-z_$][\w$]*$/.test(p.key) ? `.${p.key}` : `[${JSON.stringify(p.key.length > 40 ? `${p.key.slice(0, 40)}…` : p.key)}]`);
  }
  return parts.reverse().join('').replace(/^\./, '');
}

export interface Unstorable {
  /** Where in the value: `content.authors[2].name`, or '' for the value itself. */
  path: string;
  /** What is wrong there, e.g. `holds a NUL character (\u0000), which cannot be stored`. */
  problem: string;
}

/** `text` with each NUL or lone surrogate written as its escape (`\u0000`): text quoted from what was sent, storable. */
export function storableText(text: string): string {
  return text.replace(/[\0\p{Cs}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function charProblem(text: string): string {
  return text.includes('\0') ? 'a NUL character (\\u0000)' : 'a lone surrogate (a \\ud800–\\udfff escape without its pair)';
}

/**
 * Why `value` (as JSON.parse or a JSON stream parser made it) cannot be stored, and where in it;
 * null when it can. Walks the value once, without recursion.
 */
export function whyUnstorable(value: unknown): Unstorable | null {
  const stack: Array<{ value: unknown; place: Place | null; depth: number }> = [{ value, place: null, depth: 0 }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const { value: v, place, depth } = next;
    if (typeof v === 'string') {
      if (unstorableChar.test(v)) return { path: pathOf(place), problem: `holds ${charProblem(v)}, which cannot be stored` };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path: pathOf(place), problem: 'is a number too large to store (beyond ±1.8e308)' };
    } else if (v !== null && typeof v === 'object') {
      if (depth >= maxJsonDepth) return { path: pathOf(place), problem: `is nested deeper than ${maxJsonDepth} levels` };
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], place: { parent: place, key: i }, depth: depth + 1 });
      } else {
        for (const [key, child] of Object.entries(v)) {
          if (unstorableChar.test(key)) return { path: pathOf(place), problem: `has a key that holds ${charProblem(key)}, which cannot be stored` };
          stack.push({ value: child, place: { parent: place, key }, depth: depth + 1 });
        }
      }
    }
  }
  return null;
}

/**
 * Whether JSON `text` could parse into something whyUnstorable refuses; false saves the walk. A NUL
 * or a lone surrogate comes only from a `\u` escape (text decoded from UTF-8 holds no lone
 * surrogate, and JSON allows no raw NUL); a number past ±1.8e308 needs an exponent of three digits
 * or 309 digits in a row; nesting past maxJsonDepth takes as many brackets and their closing ones.
 * Three plain tests: one regular expression with the three alternatives took five times as long.
 */
export function mayBeUnstorable(text: string): boolean {
  return (
    text.length > 2 * maxJsonDepth ||
    (text.includes('\\u') && /\\u(?:0000|[dD][89a-fA-F])/.test(text)) ||
    /\d[eE]\+?\d{3}/.test(text) ||
    /\d{309}/.test(text)
  );
}
