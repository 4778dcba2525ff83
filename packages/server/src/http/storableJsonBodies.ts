import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { mayBeUnstorable, whyUnstorable, type Unstorable } from '../db/index.ts';

/**
 * A body value that parses but cannot be stored as sent (a NUL, a lone surrogate, a number past
 * ±1.8e308, nesting too deep), refused as a schema mismatch is: 400 `invalid_request` (422 on the
 * DESTINY routes), before the handler, naming the place. Stored, PostgreSQL would refuse it, or
 * change it without a word: a lone surrogate sent to text becomes U+FFFD, 1e999 in JSON null.
 */
export function unstorableBodyError(found: Unstorable, where = 'body'): FastifyError {
  const place = found.path ? `${where}${found.path.startsWith('[') ? '' : '.'}${found.path}` : where;
  return Object.assign(new Error(`${place} ${found.problem}`), {
    code: 'FST_ERR_VALIDATION',
    name: 'ValidationError',
    statusCode: 400,
    validation: [{ instancePath: '', schemaPath: '', keyword: 'storable', params: { path: found.path }, message: found.problem }],
    validationContext: place,
  }) as FastifyError;
}

/** Throws unstorableBodyError when `value` (parsed from `text`) cannot be stored. */
export function refuseUnstorable(value: unknown, text?: string, where = 'body'): void {
  if (text !== undefined && !mayBeUnstorable(text)) return;
  const found = whyUnstorable(value);
  if (found) throw unstorableBodyError(found, where);
}

/**
 * Replaces `scope`'s application/json parser with Fastify's own (its defaults: a `__proto__` or
 * `constructor.prototype` key is an error, unless `constructorPoisoning` says otherwise) followed by
 * refuseUnstorable; an empty body is `undefined` when `emptyIsNothing`.
 */
export function parseStorableJson(scope: FastifyInstance, options: { emptyIsNothing?: boolean; constructorPoisoning?: 'error' | 'ignore' } = {}): void {
  const json = scope.getDefaultJsonParser('error', options.constructorPoisoning ?? 'error');
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request: FastifyRequest, body, done) => {
    const text = body as string;
    if (text === '' && options.emptyIsNothing) return done(null, undefined);
    json(request, text, (err: Error | null, value?: unknown) => {
      if (err) return done(err);
      try {
        refuseUnstorable(value, text);
      } catch (refused) {
        return done(refused as FastifyError);
      }
      done(null, value);
    });
  });
}
