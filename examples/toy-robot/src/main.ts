/** `npm run toy-robot`: the toy robot, configured from the environment (see README.md). */
import { jsonLogger, type LogLevel } from '@refinery/sdk';
import { serveToyPushRobot, startToyRobot, toyRobotDefaults } from './robot.ts';

function fail(message: string): never {
  console.error(`toy-robot: ${message}`);
  process.exit(1);
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) fail(`${name} is not set. Register a robot first (see examples/toy-robot/README.md) and export ROBOT_ID and ROBOT_SECRET.`);
  return value;
}

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) fail(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
  return value;
}

const common = {
  url: process.env.REFINERY_URL || toyRobotDefaults.url,
  robotId: required('ROBOT_ID'),
  secret: required('ROBOT_SECRET'),
  log: jsonLogger({ level: (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info' }),
};
const delivery = process.env.DELIVERY || 'pull';

if (delivery === 'pull') {
  const robot = startToyRobot({ ...common, limit: positiveInteger('BATCH_SIZE', toyRobotDefaults.limit), concurrency: positiveInteger('CONCURRENCY', 1) });
  await robot.done;
} else if (delivery === 'push') {
  const mode = process.env.PUSH_MODE || 'async';
  if (mode !== 'sync' && mode !== 'async') fail(`PUSH_MODE must be sync or async, not ${JSON.stringify(mode)}`);
  const port = process.env.PORT ? Number(process.env.PORT) : 8090;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number, not ${JSON.stringify(process.env.PORT)}`);
  const server = await serveToyPushRobot({ ...common, mode, port, host: process.env.HOST || '127.0.0.1', concurrency: positiveInteger('CONCURRENCY', 4) });
  console.error(`toy-robot: push deliveries at ${server.url} (register it with --push-url ${server.url})`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.stop().then(resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
} else {
  fail(`DELIVERY must be pull or push, not ${JSON.stringify(delivery)}`);
}
