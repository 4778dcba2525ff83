import { ConfigError } from './config.ts';

/** Exit codes of `refinery serve` when it cannot start, one per kind of cause (docs/operations.md). */
export const exitCodes = { other: 1, config: 2, database: 3, port: 4, dataDir: 5 } as const;

/** Why the process cannot start, in one line for its operator, and its exit code. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type SystemError = Error & { code?: string; address?: string; port?: number };

/** The host, port, database and user of a PostgreSQL URL, without its password. */
function describePostgres(url: string): { where: string; database: string; user: string } {
  try {
    const u = new URL(url);
    return { where: `${u.hostname || 'localhost'}:${u.port || 5432}`, database: decodeURIComponent(u.pathname.slice(1)) || 'postgres', user: decodeURIComponent(u.username) || 'the current user' };
  } catch {
    return { where: 'DATABASE_URL', database: '?', user: '?' };
  }
}

/** A failure to open or migrate PostgreSQL at start, said plainly. */
export function databaseStartupError(err: unknown, url: string): StartupError {
  const e = err as SystemError;
  const { where, database, user } = describePostgres(url);
  const why =
    e.code === 'ECONNREFUSED'
      ? `nothing accepts connections at ${where} (is PostgreSQL running there?)`
      : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
        ? `the host of ${where} is not known`
        : e.code === 'ETIMEDOUT' || e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH'
          ? `${where} cannot be reached (${e.code})`
          : e.code === '3D000'
            ? `PostgreSQL at ${where} has no database "${database}" (create it, or name another in DATABASE_URL)`
            : e.code === '28P01' || e.code === '28000'
              ? `PostgreSQL at ${where} refused user "${user}": ${e.message}`
              : `PostgreSQL at ${where}: ${e.message}`;
  return new StartupError(`cannot use the database: ${why}`, exitCodes.database, { cause: err });
}

/** A failure to listen, said plainly. */
export function listenStartupError(err: unknown, host: string, port: number): StartupError | unknown {
  const code = (err as SystemError).code;
  if (code === 'EADDRINUSE') return new StartupError(`port ${port} on ${host} is in use by another process; stop it, or choose another port with --port or PORT`, exitCodes.port, { cause: err });
  if (code === 'EACCES') return new StartupError(`this user may not listen on port ${port} on ${host}; choose a port above 1023 with --port or PORT`, exitCodes.port, { cause: err });
  if (code === 'EADDRNOTAVAIL') return new StartupError(`${host} is not an address of this machine; choose another with --host or HOST`, exitCodes.port, { cause: err });
  return err;
}

/** The line and exit code for anything thrown while starting. */
export function startupFailure(err: unknown): { message: string; exitCode: number } {
  if (err instanceof StartupError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof ConfigError) return { message: err.message, exitCode: exitCodes.config };
  return { message: `could not start: ${err instanceof Error ? err.message : String(err)}`, exitCode: exitCodes.other };
}
