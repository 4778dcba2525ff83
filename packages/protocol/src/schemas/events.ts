import Type, { type Static } from 'typebox';
import { requestStatuses } from '../states.ts';
import { StringEnum, Uuid } from './common.ts';

/**
 * The events a requester gets about a request, as webhooks (to its `callback_url`) and as
 * Server-Sent Events (`GET /v1/requests/{id}/events`), in this order:
 * - `request.started`: the first item was leased; carries all counts;
 * - `request.progress`: counts moved; at most one a second per request (the last counts before a
 *   quiet spell are always sent);
 * - `request.finished`: the request reached its final state (`completed`, `completed_with_errors`,
 *   `failed`, `cancelled`, `expired`); carries the final counts; always the last one.
 */
export const requestEventTypes = ['request.started', 'request.progress', 'request.finished'] as const;
export type RequestEventType = (typeof requestEventTypes)[number];

/** What an event carries (the SSE `data`, the webhook's `data`). `request.finished` counts only final statuses. */
export const RequestEventData = Type.Object({
  request_id: Uuid,
  status: StringEnum(requestStatuses),
  total: Type.Integer(),
  counts: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
});
export type RequestEventData = Static<typeof RequestEventData>;

/** A webhook body, as Standard Webhooks lays it out; the `webhook-id` header is the event id. */
export const WebhookBody = Type.Object({
  type: Type.String(),
  timestamp: Type.String({ format: 'date-time' }),
  data: RequestEventData,
});
export type WebhookBody = Static<typeof WebhookBody>;

export const WebhookSecretOut = Type.Object({
  secret: Type.String({ description: 'Standard Webhooks signing secret (`whsec_…`) of the calling API key: it signs the webhooks of the requests this key makes.' }),
});
export type WebhookSecretOut = Static<typeof WebhookSecretOut>;

export const EventsQuery = Type.Object(
  { last_event_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$', description: 'Resume after this event (as the Last-Event-ID header does).' })) },
  { additionalProperties: false },
);
