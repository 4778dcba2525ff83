import Type, { type Static } from 'typebox';
import { Page, PageQuery, StringEnum, Timestamp, Uuid } from './common.ts';
import { itemStatuses } from '../states.ts';

/** The routes the dashboard reads beside the rest of the API (docs/dashboard.md); a script may call them as well. */

export const ErrorGroup = Type.Object({
  code: Type.String(),
  status: StringEnum(itemStatuses),
  count: Type.Integer(),
  message: Type.String({ description: 'One of the messages of the items of this group.' }),
});
export const ErrorGroupList = Type.Object({ data: Type.Array(ErrorGroup) });
export type ErrorGroupList = Static<typeof ErrorGroupList>;

export const ThroughputQuery = Type.Object(
  { bucket_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'Width of a bucket; by default the request’s span in about 100 buckets.' })) },
  { additionalProperties: false },
);
export const ThroughputPoint = Type.Object({
  at: Timestamp,
  completed: Type.Integer(),
  failed: Type.Integer(),
  discarded: Type.Integer(),
});
export const Throughput = Type.Object({ bucket_seconds: Type.Integer(), data: Type.Array(ThroughputPoint) });
export type Throughput = Static<typeof Throughput>;

export const RobotStats = Type.Object({
  id: Uuid,
  name: Type.String(),
  active: Type.Boolean(),
  mode: StringEnum(['pull', 'push'] as const),
  last_seen_at: Type.Union([Timestamp, Type.Null()], { description: 'Its last lease or hand-in.' }),
  leases_held: Type.Integer(),
  items_per_minute: Type.Number({ description: 'Items of its batches finished in the last hour, per minute.' }),
  error_rate: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], { description: 'Share of those items that failed; null with none.' }),
  lease_expiries_last_hour: Type.Integer(),
});
export const RobotStatsQuery = Type.Object(PageQuery, { additionalProperties: false });
export const RobotStatsPage = Page(RobotStats);

export const Overview = Type.Object({
  queue: Type.Array(
    Type.Object({ robot_id: Uuid, robot_name: Type.String(), priority: Type.String(), pending: Type.Integer(), oldest_available_at: Timestamp }),
    { description: 'Pending items by robot and priority.' },
  ),
  oldest_pending_age_seconds: Type.Union([Type.Number(), Type.Null()], { description: 'How long the oldest pending item has been available; null with none.' }),
  finished_last_hour: Type.Array(
    Type.Object({ at: Timestamp, completed_per_second: Type.Number(), failed_per_second: Type.Number() }),
    { description: 'Items completed and failed per second, by minute, over the last hour.' },
  ),
  webhooks: Type.Object({ failing: Type.Integer({ description: 'Deliveries tried and not yet delivered.' }), last_error: Type.Union([Type.String(), Type.Null()]) }),
});
export type Overview = Static<typeof Overview>;
