import { InvalidArgumentError } from 'commander';
import { parseDuration } from '@refinery/protocol';

// Option parsers: a bad value stops the command before any call, with commander's message.

export function commaList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('give at least one, comma-separated');
  return items;
}

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

export function duration(value: string): string {
  if (parseDuration(value) === null) throw new InvalidArgumentError('must be ISO 8601 (PT10M) or seconds (600)');
  return value;
}

export function timestamp(value: string): string {
  if (Number.isNaN(Date.parse(value))) throw new InvalidArgumentError('must be an RFC 3339 time, e.g. 2030-01-31T12:00:00Z');
  return new Date(value).toISOString();
}
