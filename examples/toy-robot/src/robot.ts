/**
 * The toy robot: for every record, one `annotation` enhancement with a random score and a
 * random toy — the smallest robot that exercises the whole Refinery loop.
 */
import {
  runRobot,
  servePushRobot,
  silentLogger,
  type BatchRecord,
  type EnhancementOut,
  type PushRobotHandle,
  type RobotHandle,
  type RunRobotCommonOptions,
  type ServePushRobotCommonOptions,
} from '@refinery/sdk';

export const toyRobotVersion = '0.1.0';
export const toyRobotDefaults = { url: 'http://localhost:8080', limit: 1000 } as const;

const toys = ['spinning top', 'yo-yo', 'kite', 'rubber duck', 'wooden train', 'jack-in-the-box', 'marbles', 'rocking horse', 'kaleidoscope', 'tin robot'];

/** runRobot's options (see @refinery/sdk), with defaults for a toy. */
export type ToyRobotOptions = Omit<RunRobotCommonOptions, 'url'> & {
  /** Default http://localhost:8080. */
  url?: string;
  /** Records per batch at most. Default 1000. */
  limit?: number;
  /** Log nothing (overrides `log`). Default false. */
  quiet?: boolean;
};

/** The toy enhancement of one record. */
export function toyAnnotation(record: BatchRecord): EnhancementOut {
  const toy = toys[Math.floor(Math.random() * toys.length)]!;
  return {
    type: 'annotation',
    content: { annotations: [{ scheme: 'meta:toy', label: 'toy', score: Math.random(), data: { toy, record_type: record.type } }] },
  };
}

/** Starts the toy robot in this process; stop it with the handle's `stop()`. */
export function startToyRobot(options: ToyRobotOptions): RobotHandle {
  const { url, limit, quiet, ...rest } = options;
  return runRobot({
    robotVersion: toyRobotVersion,
    ...rest,
    url: url ?? toyRobotDefaults.url,
    limit: limit ?? toyRobotDefaults.limit,
    log: quiet ? silentLogger : rest.log,
    handler: toyAnnotation,
  });
}

/** servePushRobot's options (see @refinery/sdk), with defaults for a toy. */
export type ToyPushRobotOptions = Omit<ServePushRobotCommonOptions, 'url'> & {
  /** Refinery, for the results of asynchronous deliveries. Default http://localhost:8080. */
  url?: string;
  /** Log nothing (overrides `log`). Default false. */
  quiet?: boolean;
};

/**
 * Serves the toy robot to Refinery's push deliveries (register it with `--push-url`): 200 with
 * the results inline (`mode: 'sync'`) or 202 and the results posted later (`'async'`, the default).
 */
export function serveToyPushRobot(options: ToyPushRobotOptions): Promise<PushRobotHandle> {
  const { url, quiet, ...rest } = options;
  return servePushRobot({
    robotVersion: toyRobotVersion,
    ...rest,
    url: url ?? toyRobotDefaults.url,
    log: quiet ? silentLogger : rest.log,
    handler: toyAnnotation,
  });
}
