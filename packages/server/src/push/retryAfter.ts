/**
 * The wait a `Retry-After` header asks for, in milliseconds (RFC 9110 §10.2.3): delay-seconds or
 * an HTTP date, measured from `now`; null when the header is missing or unreadable. A date in
 * the past means no wait.
 */
export function retryAfterMs(header: string | null, now: Date): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/[a-z]/i.test(text)) return null;
  return Math.max(0, at - now.getTime());
}
