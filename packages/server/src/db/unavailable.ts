/**
 * SQLSTATEs of a database that is away rather than of a statement that is wrong: connection
 * exceptions (class 08, but for a protocol violation), the server shutting down, crashing or
 * starting (57P01–57P03), ending an idle session (57P05), out of connections (53300).
 */
const awayStates = new Set(['08000', '08001', '08003', '08004', '08006', '08007', '57P01', '57P02', '57P03', '57P05', '53300']);
/** What Node's sockets say when the server cannot be reached or the connection broke. */
const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** What the pg driver says of a connection that ended or could not be made (it gives these no code). */
const driverMessages = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect)/;

/**
 * Whether `err` says the database is away (not answering, restarting, ending sessions, out of
 * connections): what a caller should try again shortly, not a fault of the call or of Refinery.
 */
export function databaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof AggregateError) return err.errors.some(databaseUnavailable);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (awayStates.has(code) || socketCodes.has(code))) return true;
  return driverMessages.test(err.message);
}
