/**
 * Push delivery (docs/push.md): Refinery POSTs a leased batch to a push robot's URL, signed per
 * Standard Webhooks. Server and SDK take the signing key and the message id from here.
 */

/**
 * The Standard Webhooks secret of a robot secret: `whsec_` and the base64 of the secret's UTF-8
 * bytes. The HMAC key is therefore the same bytes a robot signs its own calls with (RFC 9421), so
 * a robot needs no second secret, and any Standard Webhooks library verifies with this string.
 */
export function pushSigningSecret(robotSecret: string): string {
  return `whsec_${Buffer.from(robotSecret, 'utf8').toString('base64')}`;
}

/** `webhook-id` of a delivery: the batch and its attempt, stable for that delivery. */
export function pushMessageId(batchId: string, attempt: number): string {
  return `${batchId}.${attempt}`;
}

/** Media type of the results a synchronous push robot answers with: the results file, JSON Lines. */
export const pushResultsMediaType = 'application/x-ndjson';
