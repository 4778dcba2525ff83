import { Command } from 'commander';
import type { AutomationIn, AutomationOut } from '@refinery/protocol';
import { allPages } from '@refinery/sdk';
import { CliError, connected, withClient, type CommonFlags } from './connection.ts';
import { print, printJson, printJsonArray, printTable } from './output.ts';
import { jsonFilter } from './records.ts';

type Automation = Omit<AutomationOut, 'triggered'>;

/** `refinery automations …` (docs/automations.md). */
export function registerAutomationCommands(program: Command): void {
  const automations = program.command('automations').description('requests made by themselves: when an import touches records that match, ask a robot to enhance them');

  connected(automations.command('create'))
    .description('add an automation; prints it')
    .requiredOption('--robot <id>', 'the robot its requests ask')
    .option('--on-records <type>', 'fire for records of this type that an import creates')
    .option('--on-enhancements <type>', 'fire for records that a batch gives enhancements of this type')
    .option('--from-robot <id>', 'with --on-enhancements: only those this robot made')
    .option('--query <query>', 'narrow it: a Lucene-style query string, or a JSON filter (docs/queries.md)')
    .option('--paused', 'add it paused')
    .action(
      withClient(async (client, flags: { robot: string; onRecords?: string; onEnhancements?: string; fromRobot?: string; query?: string; paused?: boolean } & CommonFlags) => {
        if (!flags.onRecords && !flags.onEnhancements) throw new CliError('say what fires it: --on-records <type>, --on-enhancements <type>, or both');
        if (flags.fromRobot && !flags.onEnhancements) throw new CliError('--from-robot goes with --on-enhancements');
        const body: AutomationIn = {
          robot_id: flags.robot,
          trigger: {
            ...(flags.onRecords && { records: { type: flags.onRecords } }),
            ...(flags.onEnhancements && { enhancements: { type: flags.onEnhancements, ...(flags.fromRobot && { robot_id: flags.fromRobot }) } }),
          },
          ...(flags.query !== undefined && (flags.query.trimStart().startsWith('{') ? { filter: jsonFilter(flags.query) } : { query: flags.query })),
          active: !flags.paused,
        };
        const automation = await client.createAutomation(body);
        if (flags.json) return printJson(automation);
        print(`Automation ${automation.id} added${automation.active ? '' : ', paused'}: it fires on ${triggerText(automation)}.`);
      }),
    );

  connected(automations.command('list'))
    .description('list the automations (a requester key sees its own)')
    .option('--robot <id>', 'only those of this robot')
    .action(
      withClient(async (client, flags: { robot?: string } & CommonFlags) => {
        const pages = allPages((cursor) => client.listAutomations({ cursor, limit: 1000, robot_id: flags.robot }));
        if (flags.json) return void (await printJsonArray(pages));
        const all: Automation[] = [];
        for await (const a of pages) all.push(a);
        if (all.length === 0) return print('No automations yet. Add one with: refinery automations create --robot … --on-records …');
        printTable([['ID', 'ROBOT', 'ACTIVE', 'TRIGGER', 'QUERY', 'LAST ERROR'], ...all.map((a) => [a.id, a.robot_id, a.active ? 'yes' : 'paused', triggerText(a), queryText(a), a.last_error ?? ''])]);
      }),
    );

  connected(automations.command('show'))
    .description('an automation and what it triggered: requests, items, matches waiting, the last error')
    .argument('<id>', 'automation id')
    .action(
      withClient(async (client, id: string, flags: CommonFlags) => {
        const a = await client.getAutomation(id);
        if (flags.json) return printJson(a);
        print(`Automation ${a.id} (${a.active ? 'active' : 'paused'}) for robot ${a.robot_id}`);
        print(`  fires on:  ${triggerText(a)}${a.query || a.filter ? `, where ${queryText(a)}` : ''}`);
        print(`  triggered: ${a.triggered.requests} requests, ${a.triggered.items} items; ${a.triggered.waiting} records waiting for the window to close`);
        if (a.last_error) print(`  last error (${a.last_error_at}): ${a.last_error}`);
        if (a.triggered.recent.length > 0) {
          print('');
          printTable([
            ['REQUEST', 'ITEMS', 'DEPTH', 'TRIGGERED BY', 'AT'],
            ...a.triggered.recent.map((r) => [r.request_id ?? `(none: ${r.error})`, String(r.item_count), String(r.depth), r.triggered_by.map((t) => `${t.kind} ${t.id}`).join(', '), r.created_at]),
          ]);
        }
      }),
    );

  for (const [verb, active, what] of [
    ['pause', false, 'pause an automation: what it gathered is dropped, and it gathers nothing until resumed'],
    ['resume', true, 'resume a paused automation'],
  ] as const) {
    connected(automations.command(verb))
      .description(what)
      .argument('<id>', 'automation id')
      .action(
        withClient(async (client, id: string, flags: CommonFlags) => {
          const a = active ? await client.resumeAutomation(id) : await client.pauseAutomation(id);
          if (flags.json) return printJson(a);
          print(`Automation ${a.id} is ${a.active ? 'active' : 'paused'}.`);
        }),
      );
  }

  connected(automations.command('delete'))
    .description('delete an automation; the requests it made stay')
    .argument('<id>', 'automation id')
    .action(
      withClient(async (client, id: string, flags: CommonFlags) => {
        await client.deleteAutomation(id);
        if (flags.json) return printJson({ deleted: id });
        print(`Automation ${id} deleted.`);
      }),
    );
}

function triggerText(a: Automation): string {
  const parts: string[] = [];
  if (a.trigger.records) parts.push(`new ${a.trigger.records.type} records`);
  if (a.trigger.enhancements) parts.push(`${a.trigger.enhancements.type} enhancements${a.trigger.enhancements.robot_id ? ` from robot ${a.trigger.enhancements.robot_id}` : ''}`);
  return parts.join(' or ');
}

function queryText(a: Automation): string {
  return a.query ?? (a.filter ? JSON.stringify(a.filter) : '');
}
