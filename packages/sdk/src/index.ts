/**
 * @refinery/sdk: talk to Refinery from TypeScript.
 * - RefineryClient: requesters and admins (API key): records, robots, requests, API keys.
 * - RobotClient: a robot's signed calls (RFC 9421): lease, renew, download, upload, post.
 * - runRobot: the whole robot loop around a handler, with renewal, retries and graceful shutdown.
 * - servePushRobot: the same handler served to Refinery's push deliveries (docs/push.md).
 */
export { RefineryClient, allPages, isFinalRequestStatus } from './refinery-client.ts';
export type { ApiKey, NewApiKey, Page, PageOptions, RefineryClientOptions, RequestBatch, RequestEvent, WatchOptions } from './refinery-client.ts';
export { parseServerSentEvents } from './sse.ts';
export type { ServerSentEvent } from './sse.ts';
export { RobotClient } from './robot-client.ts';
export type { RobotClientOptions, LeaseOptions, DownloadOptions, UploadOptions, Renewal } from './robot-client.ts';
export { runRobot } from './runtime.ts';
export type {
  BatchContext,
  BatchHandler,
  BatchRecord,
  EnhancementOut,
  RecordHandler,
  RobotHandle,
  RobotStats,
  RunRobotCommonOptions,
  RunRobotOptions,
} from './runtime.ts';
export { servePushRobot } from './push.ts';
export type { PushRobotHandle, PushRobotStats, ServePushRobotCommonOptions, ServePushRobotOptions } from './push.ts';
export { RefineryError, LeaseLostError, BatchError, RecordError, isTransient, messageOf } from './errors.ts';
export { jsonLogger, silentLogger, withFields } from './logger.ts';
export type { RobotLogger, LogLevel } from './logger.ts';
export { parseJsonLines, parseJsonLineChunks, encodeJsonLines, JsonLinesError } from './jsonl.ts';
export { mapConcurrent } from './concurrent.ts';
export { Backoff, retryTransient, sleep } from './retry.ts';
export type { RetryOptions } from './retry.ts';
export { requestFetch } from './http.ts';
export type { Duration, Fetch } from './http.ts';
