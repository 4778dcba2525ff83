/**
 * Durations on the wire are ISO 8601 (`PT10M`, `P1DT2H`) or plain seconds (`600`, `1.5`).
 */
export const durationPattern = '^(?:\\d+(?:\\.\\d+)?|P(?=\\d|T\\d)(?:\\d+D)?(?:T(?=\\d)(?:\\d+H)?(?:\\d+M)?(?:\\d+(?:\\.\\d+)?S)?)?)$';
const durationRegex = new RegExp(durationPattern);
const isoRegex = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Milliseconds in a duration string, or null when it is not a duration. */
export function parseDuration(text: string): number | null {
  if (!durationRegex.test(text)) return null;
  if (!text.startsWith('P')) return Math.round(Number(text) * 1000);
  const m = isoRegex.exec(text);
  if (!m) return null;
  const [, d, h, min, s] = m;
  return Math.round(((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min ?? 0)) * 60_000 + Number(s ?? 0) * 1000);
}

/** `PT…S` for a number of milliseconds, the form Refinery answers with. */
export function formatDuration(ms: number): string {
  return `PT${Number((ms / 1000).toFixed(3))}S`;
}
