import { Command } from 'commander';
import type { RobotIn, RobotOut } from '@refinery/protocol';
import { allPages } from '@refinery/sdk';
import { connected, withClient, type CommonFlags } from './connection.ts';
import { commaList, duration, positiveInteger } from './options.ts';
import { note, print, printJson, printJsonArray, printTable } from './output.ts';

/** `refinery robots …` (admin key). */
export function registerRobotCommands(program: Command): void {
  const robots = program.command('robots').description('register, read, pause and resume robots, and rotate their secrets (admin key)');

  connected(robots.command('create'))
    .description('register a robot; prints it as JSON with its secret (shown once)')
    .requiredOption('--name <name>', 'unique name')
    .requiredOption('--accepts <types>', 'record types it enhances, comma-separated (e.g. reference)', commaList)
    .requiredOption('--produces <types>', 'enhancement types it writes, comma-separated (e.g. annotation)', commaList)
    .option('--needs <types>', 'enhancement types to include with each record, comma-separated', commaList)
    .option('--owner <owner>', 'who runs it')
    .option('--description <text>', 'what it does')
    .option('--max-batch-size <n>', 'most items in one batch (default 1000)', positiveInteger)
    .option('--lease <duration>', 'default lease, ISO 8601 or seconds (default PT10M)', duration)
    .option('--max-attempts <n>', 'attempts per item before it fails (default 3)', positiveInteger)
    .option('--push-url <url>', 'deliver batches by POSTing them to this URL instead of letting the robot pull')
    .option('--env', 'print `export ROBOT_ID=… ROBOT_SECRET=…` instead of JSON, for `eval "$(…)"`')
    .action(
      withClient(async (client, flags: RobotFlags & { env?: boolean }) => {
        const robot = await client.createRobot(robotFromFlags(flags));
        const exports = `export ROBOT_ID=${robot.id} ROBOT_SECRET=${robot.secret}`;
        if (flags.env) print(exports);
        else printJson(robot);
        note(`\nRobot "${robot.name}" registered. Its secret is shown only this once: keep it.`);
        if (!flags.env) note(`  ${exports}`);
      }),
    );

  connected(robots.command('list'))
    .description('list the robots')
    .action(
      withClient(async (client, flags: CommonFlags) => {
        const pages = allPages((cursor) => client.listRobots({ cursor, limit: 1000 }));
        if (flags.json) return void (await printJsonArray(pages));
        const all: RobotOut[] = [];
        for await (const robot of pages) all.push(robot);
        if (all.length === 0) return print('No robots yet. Register one with: refinery robots create --name … --accepts … --produces …');
        printTable([
          ['ID', 'NAME', 'ACTIVE', 'ACCEPTS', 'PRODUCES', 'DELIVERY', 'BATCH', 'LEASE'],
          ...all.map((r) => [
            r.id,
            r.name,
            r.active ? 'yes' : 'paused',
            r.accepts.join(','),
            r.produces.map((p) => p.type).join(','),
            r.delivery.mode === 'push' ? `push ${r.delivery.url}` : 'pull',
            String(r.max_batch_size),
            r.lease,
          ]),
        ]);
      }),
    );

  connected(robots.command('show'))
    .description('a robot: what it accepts and produces, how it is delivered to, its live secrets')
    .argument('<id>', 'robot id')
    .action(
      withClient(async (client, id: string, flags: CommonFlags) => {
        const robot = await client.getRobot(id);
        if (flags.json) return printJson(robot);
        printRobot(robot);
      }),
    );

  connected(robots.command('pause'))
    .description('pause a robot: it leases nothing, and new requests for it are refused, until resumed')
    .argument('<id>', 'robot id')
    .action(
      withClient(async (client, id: string, flags: CommonFlags) => {
        const robot = await client.pauseRobot(id);
        if (flags.json) return printJson(robot);
        print(`Robot "${robot.name}" is paused: it leases nothing and new requests for it are refused.`);
        print(`Resume it with: refinery robots resume ${robot.id}`);
      }),
    );

  connected(robots.command('resume'))
    .description('resume a paused robot')
    .argument('<id>', 'robot id')
    .action(
      withClient(async (client, id: string, flags: CommonFlags) => {
        const robot = await client.resumeRobot(id);
        if (flags.json) return printJson(robot);
        print(`Robot "${robot.name}" is active: it leases its pending items again and takes new requests.`);
      }),
    );

  connected(robots.command('rotate-secret'))
    .description('issue a new secret; prints the robot as JSON with it (shown once); the old one keeps working for the grace period')
    .argument('<id>', 'robot id')
    .option('--grace <duration>', 'how long the old secret keeps working, ISO 8601 or seconds (default PT1H, at most 30 days)', duration)
    .action(
      withClient(async (client, id: string, flags: { grace?: string }) => {
        const robot = await client.rotateRobotSecret(id, { grace: flags.grace });
        printJson(robot);
        const previous = robot.secrets.find((s) => s.expires_at !== null);
        note(`\nRobot "${robot.name}" has a new secret, shown only this once: keep it.`);
        note(previous ? `The previous secret keeps working until ${previous.expires_at}.` : 'The previous secret stopped working.');
        note(`  export ROBOT_ID=${robot.id} ROBOT_SECRET=${robot.secret}`);
      }),
    );
}

interface RobotFlags {
  name: string;
  accepts: string[];
  produces: string[];
  needs?: string[];
  owner?: string;
  description?: string;
  maxBatchSize?: number;
  lease?: string;
  maxAttempts?: number;
  pushUrl?: string;
}

function robotFromFlags(flags: RobotFlags): RobotIn {
  return {
    name: flags.name,
    owner: flags.owner,
    description: flags.description,
    accepts: flags.accepts,
    produces: flags.produces.map((type) => ({ type })),
    needs: flags.needs,
    delivery: flags.pushUrl ? { mode: 'push', url: flags.pushUrl } : undefined,
    max_batch_size: flags.maxBatchSize,
    lease: flags.lease,
    max_attempts: flags.maxAttempts,
  };
}

function printRobot(robot: RobotOut): void {
  printTable([
    ['robot', robot.id],
    ['name', robot.name],
    ['active', robot.active ? 'yes' : `paused (refinery robots resume ${robot.id})`],
    ['owner', robot.owner ?? '—'],
    ['description', robot.description ?? '—'],
    ['accepts', robot.accepts.join(', ')],
    ['produces', robot.produces.map((p) => (p.schema ? `${p.type} (with a schema)` : p.type)).join(', ')],
    ['needs', robot.needs.join(', ') || '—'],
    ['delivery', robot.delivery.mode === 'push' ? `push to ${robot.delivery.url}` : 'pull'],
    ['max batch size', String(robot.max_batch_size)],
    ['lease', robot.lease],
    ['max attempts', String(robot.max_attempts)],
    ['created', robot.created_at],
    ['updated', robot.updated_at],
    ...robot.secrets.map((s, i) => [i === 0 ? 'secrets' : '', `made ${s.created_at}${s.expires_at ? `, works until ${s.expires_at}` : ''}`]),
  ]);
}
