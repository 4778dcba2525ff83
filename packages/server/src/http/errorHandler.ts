import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { databaseUnavailable } from '../db/index.ts';
import type { ApiErrorCode } from '@refinery/protocol';
import { AppError, errorBody, errors, retryAfterSeconds } from '../errors.ts';

const frameworkCodes: Record<string, { status: number; code: ApiErrorCode }> = {
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
    reply.status(err.statusCode).send(errorBody('invalid_request', err.message));
  } else {
    reply.status(500).send(errorBody('internal', 'something went wrong on our side; the request id is in x-request-id'));
  }
}

/**
 * What Node's HTTP parser refuses before there is a request (headers over 16 KB, broken chunked
 * encoding, bytes that are not HTTP), answered in the same shape, and the connection closed: what
 * follows on it cannot be read as requests.
 */
export function clientErrors(err: NodeJS.ErrnoException & { reason?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message]: [number, ApiErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'the request headers are larger than 16 KB']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request headers did not arrive in time']
        : [400, 'bad_http', `the request is not valid HTTP/1.1: ${err.reason ?? err.message}`];
  const body = JSON.stringify(errorBody(code, message));
  // A request whose answer has begun (the body broke off after it) gets no second answer.
  const answer = (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
  if (socket.writable && !answer?.headersSent) {
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroySoon();
}

/** Its client went away before sending the whole request: nothing can be answered, and nothing is wrong here. */
function clientLeft(request: FastifyRequest): boolean {
  return request.raw.destroyed && !request.raw.complete;
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
    if (clientLeft(request)) {
      request.log.info({ reason: err.message }, 'the client closed the connection before its request was sent');
      // 499, as nginx logs it: client closed request. The answer goes nowhere.
      return reply.status(499).send(errorBody('client_closed_request', 'the connection closed before the request was sent'));
    }
    if (databaseUnavailable(err)) {
      request.log.warn({ err }, 'the database does not answer');
      err = errors.unavailable() as FastifyError;
    }
    if (err instanceof AppError) {
      if (err.statusCode === 503) reply.header('retry-after', String(retryAfterSeconds));
      else if (err.statusCode >= 500) request.log.error({ err }, err.message);
      return reply.status(err.statusCode).send(errorBody(err.code, err.message, err.details));
    }
    if (err.validation) return reply.status(400).send(errorBody('invalid_request', validationMessage(err), err.validation));
    if (typeof err.code === 'string' && badValueSqlStates.has(err.code)) {
      return reply.status(400).send(errorBody('invalid_request', `a value sent cannot be stored: ${err.message}`));
    }
    const mapped = err.code ? frameworkCodes[err.code] : undefined;
    if (mapped) return reply.status(mapped.status).send(errorBody(mapped.code, err.message));
    if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
      return reply.status(400).send(errorBody('malformed_json', `body is not valid JSON: ${err.message}`));
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send(errorBody('invalid_request', err.message));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorBody('internal', 'something went wrong on our side; the request id is in x-request-id'));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}
