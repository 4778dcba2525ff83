import peggy from 'peggy';

/** What the grammar reads a query string as, before its fields are given a meaning (parseQuery.ts). Every part has its offset. */
export type Expr =
  | { kind: 'or' | 'and'; parts: Expr[]; at: number }
  | { kind: 'not'; of: Expr; at: number }
  | { kind: 'group'; of: Expr; at: number }
  | { kind: 'field'; field: string; at: number; value: Value }
  | { kind: 'bare'; value: Value; at: number };

export type Value =
  | { kind: 'term'; text: string; quoted: boolean; at: number }
  | { kind: 'compare'; op: '>' | '>=' | '<' | '<='; text: string; quoted: boolean; at: number }
  | { kind: 'range'; low: string | null; high: string | null; lowIncluded: boolean; highIncluded: boolean; at: number }
  | { kind: 'group'; of: Expr; at: number };

/**
 * The Lucene query syntax, as Elasticsearch's query_string reads it, less what ranks or guesses
 * (boosts, fuzziness, proximity, regular expressions, a default field). AND binds tighter than OR;
 * NOT, `!` and `-` negate; a value is a term (backslash escapes), a "phrase", a comparison
 * (`>=2020`), a range (`[a TO b}`), or a parenthesised group of values for one field. Our own
 * rather than the `lucene` package's: docs/internals/0019-record-queries.md.
 */
const source = String.raw`
{{
  const list = (kind, head, tail, at) => tail.length === 0 ? head : { kind, parts: [head, ...tail.map((t) => t[3])], at };
  const unescape = (text) => text.replace(/\\(.)/gs, '$1');
}}

Query = _ e:Or _ { return e; }

Or = head:And tail:(_ OrOp _ And)* { return list('or', head, tail, location().start.offset); }
And = head:Unary tail:(_ AndOp _ Unary)* { return list('and', head, tail, location().start.offset); }

Unary
  = nots:Not+ p:Primary { return nots.reduceRight((of, at) => ({ kind: 'not', of, at }), p); }
  / "-" p:Primary { return { kind: 'not', of: p, at: location().start.offset }; }
  / "+" p:Primary { return p; }
  / Primary

Not = NotOp _ { return location().start.offset; }

Primary
  = "(" _ e:Or _ ")" { return { kind: 'group', of: e, at: location().start.offset }; }
  / f:Field ":" v:Value { return { kind: 'field', field: f, at: location().start.offset, value: v }; }
  / v:Value { return { kind: 'bare', value: v, at: location().start.offset }; }

Field = $([A-Za-z_] [A-Za-z0-9_.\-]*)

Value
  = "(" _ e:Or _ ")" { return { kind: 'group', of: e, at: location().start.offset }; }
  / low:("[" / "{") _ a:RangeEnd __ "TO" __ b:RangeEnd _ high:("]" / "}") {
      return { kind: 'range', low: a, high: b, lowIncluded: low === '[', highIncluded: high === ']', at: location().start.offset };
    }
  / op:$(">=" / "<=" / ">" / "<") v:(Phrase / Term) { return { kind: 'compare', op, text: v.text, quoted: v.quoted, at: location().start.offset }; }
  / Phrase
  / Term

RangeEnd = "*" { return null; } / p:Phrase { return p.text; } / t:$(("\\" .) / [^ \t\r\n\]}"\\])+ { return unescape(t); }

Phrase = '"' chars:$(("\\" .) / [^"\\])* '"' { return { kind: 'term', text: unescape(chars), quoted: true, at: location().start.offset }; }

// Kept escaped: a * or ? is a wildcard unless escaped (parseQuery.ts).
Term = !(OrOp / AndOp / NotOp) t:$(("\\" .) / [^ \t\r\n()\[\]{}"\\^~])+ { return { kind: 'term', text: t, quoted: false, at: location().start.offset }; }

OrOp = "OR" !Word / "||"
AndOp = "AND" !Word / "&&"
NotOp = "NOT" !Word / "!"
Word = [A-Za-z0-9_]

_ = [ \t\r\n]*
__ = [ \t\r\n]+
`;

export const queryParser = peggy.generate(source, { grammarSource: 'query' }) as { parse(text: string): Expr };
/** What a generated parser throws on input it cannot read. */
export interface SyntaxError {
  location?: { start: { offset: number } };
  expected?: Array<{ type: string; text?: string }>;
  found?: string | null;
}
