/**
 * The CLI's client commands: talk to a running Refinery over HTTP through @refinery/sdk, one file
 * per noun (robots, keys, records, record types, requests, automations).
 *
 * Output: every command takes `--json` and then prints its answer as one JSON value on stdout (a
 * list as an array, streamed), and an error as `{"error": …}` on stderr. Commands whose answer you
 * keep (`robots create`, `robots rotate-secret`, `keys create`, `records import` unless stdout is
 * a terminal) print JSON on stdout anyway, and a friendly summary on stderr, so `> file.json`
 * keeps the answer. Progress goes to stderr, and only to a terminal (progress.ts). Errors print
 * the server's message, a hint when there is one, and exit 1.
 */
import type { Command } from 'commander';
import { registerAutomationCommands } from './automations.ts';
import { registerKeyCommands } from './keys.ts';
import { registerRecordCommands } from './records.ts';
import { registerRecordTypeCommands } from './recordTypes.ts';
import { registerRequestCommands } from './requests.ts';
import { registerRobotCommands } from './robots.ts';

export function registerClientCommands(program: Command): void {
  registerRobotCommands(program);
  registerKeyCommands(program);
  registerRecordCommands(program);
  registerRecordTypeCommands(program);
  registerRequestCommands(program);
  registerAutomationCommands(program);
}
