import { Command, Option } from 'commander';
import { messageOf, RefineryClient, RefineryError } from '@refinery/sdk';

const defaultUrl = 'http://localhost:8080';

/** What every client command takes: where Refinery is, the key, and `--json`. */
export interface CommonFlags {
  url: string;
  key?: string;
  json?: boolean;
}

/** Adds `--url`, `--key` (or REFINERY_URL, REFINERY_API_KEY) and `--json` to a command. */
export function connected(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'Refinery base URL').env('REFINERY_URL').default(defaultUrl))
    .addOption(new Option('--key <key>', 'API key').env('REFINERY_API_KEY'))
    .option('--json', 'print the answer as JSON on stdout (errors too, on stderr)');
}

/** A mistake of the person at the keyboard: printed as it is. */
export class CliError extends Error {}

/**
 * A commander action with a client made from the command's `--url`/`--key`. The wrapped function
 * gets the client, then the command's arguments and its options. An error is printed on stderr
 * (as `{"error": …}` with `--json`), with a hint when there is one, and the exit code is 1.
 */
export function withClient<A extends unknown[]>(action: (client: RefineryClient, ...args: A) => Promise<void>) {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const flags = command.opts<CommonFlags>();
    try {
      if (!flags.key) throw new CliError('no API key: pass --key or set REFINERY_API_KEY (`refinery serve` prints an admin key at first start)');
      const client = new RefineryClient({ url: flags.url, apiKey: flags.key });
      await action(client, ...(args.slice(0, -1) as A));
    } catch (err) {
      process.exitCode = 1;
      if (flags.json) {
        const error = err instanceof RefineryError ? { code: err.code, message: err.message, status: err.status, details: err.details } : { code: 'cli_error', message: describeError(err, flags.url) };
        process.stderr.write(`${JSON.stringify({ error })}\n`);
        return;
      }
      process.stderr.write(`error: ${describeError(err, flags.url)}\n`);
      const hint = err instanceof RefineryError ? hintFor(err, command) : null;
      if (hint) process.stderr.write(`${hint}\n`);
    }
  };
}

/** Error codes of a connection that could not be made. */
const unreachable = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET'];

function describeError(err: unknown, url: string): string {
  if (err instanceof RefineryError) {
    // A list of schema errors only repeats the message; other details (e.g. which record) help.
    const details = err.details === undefined || Array.isArray(err.details) ? '' : `\n  details: ${JSON.stringify(err.details)}`;
    const requestId = err.requestId ? `, request id ${err.requestId}` : '';
    return `${err.message} (${err.code}, HTTP ${err.status}${requestId})${details}`;
  }
  if (err instanceof TypeError && err.message === 'fetch failed') return `cannot reach Refinery at ${url}: ${messageOf(err.cause ?? err)}`;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (unreachable.includes(code) || code.startsWith('UND_ERR_CONNECT'))) return `cannot reach Refinery at ${url}: ${messageOf(err)}`;
  return messageOf(err);
}

/** What to do next about an error, as a `refinery …` command when there is one. */
function hintFor(err: RefineryError, command: Command): string | null {
  const [id] = command.args;
  const robot = command.opts<{ robot?: string }>().robot ?? '<robot id>';
  switch (err.code) {
    case 'unauthorized':
      return 'Check --key or REFINERY_API_KEY: this key is unknown, or was revoked (an admin key lists the live ones: refinery keys list).';
    case 'forbidden':
      return 'This needs an admin key: `refinery serve` prints one at first start; `refinery keys create --role admin --name …` makes another.';
    case 'invalid_query': {
      // Under a query string, where it went wrong.
      const offset = (err.details as { offset?: unknown } | undefined)?.offset;
      return typeof offset === 'number' && typeof id === 'string' ? `${id}\n${' '.repeat(offset)}^` : null;
    }
    case 'robot_paused':
      return `Resume the robot first: refinery robots resume ${robot}`;
    case 'request_not_finished':
      return `Follow it until it finishes: refinery requests watch ${id}`;
    case 'already_retried': {
      const retryId = (err.details as { retry_id?: string } | undefined)?.retry_id;
      return retryId ? `See that retry: refinery requests show ${retryId}` : null;
    }
    case 'nothing_to_retry':
      return `See how its items ended: refinery requests show ${id}`;
    case 'items_not_failed':
      return `The failed ones: refinery requests items ${id} --status failed`;
    case 'last_admin_key':
      return 'Make another admin key first: refinery keys create --role admin --name …';
    default:
      return null;
  }
}
