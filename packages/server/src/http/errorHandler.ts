import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { databaseUnavailable } from '../db/unavailable.ts';
import { AppError, errors, retryAfterSeconds } from '../errors.ts';

const frameworkCodes: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'malformed_json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'malformed_json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_request' },
};

/**
 * PostgreSQL data exceptions that only a value sent to us can cause (it passed the schemas but
 * cannot be stored): a NUL character in text or JSON, a date PostgreSQL cannot hold, JSON nested
 * deeper than its stack allows.
 */
const badValueSqlStates = new Set(['22P05', '22021', '22008', '22007', '54001']);

/** Errors Fastify raises before routing (a bad URL, a too long path parameter), in the same shape. */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    reply.status(err.statusCode).send({ error: { code: 'invalid_request', message: err.message } });
  } else {
    reply.status(500).send({ error: { code: 'internal', message: 'something went wrong on our side; the request id is in x-request-id' } });
  }
}

/** What a schema validation error says is wrong, for a person: where, and what. */
export function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  const where = err.validationContext ?? 'request';
  const path = first?.instancePath ? `${where}${first.instancePath.replaceAll('/', '.')}` : where;
  return first?.keyword === 'additionalProperties'
    ? `${path} has an unknown field "${(first.params as { additionalProperty: string }).additionalProperty}"`
    : `${path} ${first?.message ?? 'is invalid'}`;
}

/** The one place errors become HTTP answers: `{"error":{"code","message","details"?}}`; 5xx messages never leak. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { details?: unknown }, request, reply) => {
    if (databaseUnavailable(err)) {
      request.log.warn({ err }, 'the database does not answer');
      err = errors.unavailable() as FastifyError;
    }
    if (err instanceof AppError) {
      if (err.statusCode === 503) reply.header('retry-after', String(retryAfterSeconds));
      else if (err.statusCode >= 500) request.log.error({ err }, err.message);
      return reply.status(err.statusCode).send({ error: { code: err.code, message: err.message, ...(err.details !== undefined && { details: err.details }) } });
    }
    if (err.validation) return reply.status(400).send({ error: { code: 'invalid_request', message: validationMessage(err), details: err.validation } });
    if (typeof err.code === 'string' && badValueSqlStates.has(err.code)) {
      return reply.status(400).send({ error: { code: 'invalid_request', message: `a value sent cannot be stored: ${err.message}` } });
    }
    const mapped = err.code ? frameworkCodes[err.code] : undefined;
    if (mapped) return reply.status(mapped.status).send({ error: { code: mapped.code, message: err.message } });
    if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
      return reply.status(400).send({ error: { code: 'malformed_json', message: `body is not valid JSON: ${err.message}` } });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send({ error: { code: 'invalid_request', message: err.message } });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'internal', message: 'something went wrong on our side; the request id is in x-request-id' } });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });
}
