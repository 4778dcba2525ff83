/**
 * `npm run docs:errors`: writes docs/errors.md from the codes declared in @refinery/protocol
 * (packages/protocol/src/errors.ts). A test fails when the committed file differs from what this makes.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { apiErrors, itemErrors } from '../packages/protocol/src/errors.ts';

const cell = (text: string) => text.replaceAll('|', '\\|');

export function errorsDoc(): string {
  const lines = [
    '# Errors',
    '',
    '<!-- Made by `npm run docs:errors` from packages/protocol/src/errors.ts; edit that file, not this one. -->',
    '',
    'Every error Refinery answers with has the shape `{"error":{"code","message","details"?}}`. The',
    '`code` is stable and one of those below; the `message` is for a person and may change. A refused',
    'call changes nothing. DESTINY\'s routes answer 422 where DESTINY does, with the same codes',
    '([destiny.md](destiny.md)).',
    '',
    '| code | status | meaning |',
    '|---|---:|---|',
    ...Object.entries(apiErrors).map(([code, e]) => `| \`${code}\` | ${e.status} | ${cell(e.meaning)} |`),
    '',
    '## Item errors',
    '',
    "An item that did not complete says why in its `error` (`GET /v1/requests/{id}/items`, the",
    "request's manifest): `{\"code\",\"message\"}`, the code one of these. An item waiting for another",
    'attempt keeps the error of its last one.',
    '',
    '| code | meaning |',
    '|---|---|',
    ...Object.entries(itemErrors).map(([code, e]) => `| \`${code}\` | ${cell(e.meaning)} |`),
    '',
  ];
  return lines.join('\n');
}

export const errorsDocPath = fileURLToPath(new URL('../docs/errors.md', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(errorsDocPath, errorsDoc());
