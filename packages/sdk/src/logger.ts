/**
 * What the robot runtime logs through. pino's logger fits as it is; `jsonLogger` writes
 * one JSON object a line.
 */
export interface RobotLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const levels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof levels)[number];

/** Logs `{"time","level","msg",…fields}` lines at `level` (default `info`) and above to `stream` (default stdout). */
export function jsonLogger(options: { level?: LogLevel; stream?: NodeJS.WritableStream; fields?: object } = {}): RobotLogger {
  const stream = options.stream ?? process.stdout;
  const threshold = levels.indexOf(options.level ?? 'info');
  const at = (level: LogLevel) => (fields: object, msg: string) => {
    if (levels.indexOf(level) < threshold) return;
    stream.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...options.fields, ...fields })}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Logs nothing. */
export const silentLogger: RobotLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger that adds `fields` to every line of `log`. */
export function withFields(log: RobotLogger, fields: object): RobotLogger {
  return {
    debug: (more, msg) => log.debug({ ...fields, ...more }, msg),
    info: (more, msg) => log.info({ ...fields, ...more }, msg),
    warn: (more, msg) => log.warn({ ...fields, ...more }, msg),
    error: (more, msg) => log.error({ ...fields, ...more }, msg),
  };
}
