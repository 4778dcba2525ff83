import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { uuidPattern } from '@refinery/protocol';
import { CliError } from './connection.ts';

/**
 * The record ids in a file (`-`: stdin), in order, each once. Takes, forgivingly: one id a line;
 * JSON Lines of records (their `id`); the JSON output of `records import` (its `ids`); a JSON
 * array of ids or of records; a page from the API (its `data`).
 */
export async function readRecordIds(path: string): Promise<string[]> {
  const text = await readText(path === '-' ? process.stdin : createReadStream(path));
  const ids: string[] = [];
  const take = (value: unknown, where: string) => {
    if (typeof value === 'string' && uuidPattern.test(value)) ids.push(value);
    else if (Array.isArray(value)) value.forEach((v) => take(v, where));
    else if (value && typeof value === 'object' && 'ids' in value) take(value.ids, where);
    else if (value && typeof value === 'object' && 'data' in value) take(value.data, where);
    else if (value && typeof value === 'object' && 'id' in value) take(value.id, where);
    else throw new CliError(`${path}${where}: expected a record id, not ${JSON.stringify(value)?.slice(0, 80)}`);
  };
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (whole !== undefined) take(whole, '');
  else {
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim().replace(/^"(.*)",?$/, '$1');
      if (line === '' || line.startsWith('#')) return;
      if (line.startsWith('{')) {
        try {
          return take(JSON.parse(line), ` line ${i + 1}`);
        } catch (err) {
          if (err instanceof CliError) throw err;
          throw new CliError(`${path} line ${i + 1}: not JSON`);
        }
      }
      take(line, ` line ${i + 1}`);
    });
  }
  return [...new Set(ids)];
}

async function readText(stream: Readable): Promise<string> {
  stream.setEncoding('utf8');
  let text = '';
  for await (const chunk of stream) text += chunk as string;
  return text;
}
