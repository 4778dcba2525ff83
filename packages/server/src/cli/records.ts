import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { Command } from 'commander';
import type { RecordFilter, RecordOut } from '@refinery/protocol';
import { CliError, connected, withClient, type CommonFlags } from './connection.ts';
import { positiveInteger } from './options.ts';
import { count, note, plural, print, printJson, printJsonArray, rowPrinter } from './output.ts';
import { counting, progress } from './progress.ts';

/** `refinery records …`. */
export function registerRecordCommands(program: Command): void {
  const records = program.command('records').description('import, list and read records');

  connected(records.command('import'))
    .description('upsert records from a JSONL or JSON-array file (- for stdin), streamed; prints {ids, created, updated} as JSON unless stdout is a terminal')
    .argument('<file>', 'records, one JSON object a line or one JSON array; - reads stdin')
    .action(
      withClient(async (client, file: string, flags: CommonFlags) => {
        const size = file === '-' ? undefined : (await stat(file)).size;
        const bar = progress({ unit: 'bytes', total: size, printsMeanwhile: false });
        const startedAt = performance.now();
        let result;
        try {
          const source = pipeline(file === '-' ? process.stdin : createReadStream(file), counting(bar), () => {});
          result = await client.importRecords(source);
        } finally {
          bar.stop();
        }
        const seconds = (performance.now() - startedAt) / 1000;
        const summary = `Imported ${plural(result.ids.length, 'record')} (${count(result.created)} created, ${count(result.updated)} updated) in ${seconds.toFixed(1)} s`;
        if (process.stdout.isTTY && !flags.json) {
          print(summary);
          print('To keep their ids for a request, redirect the output: refinery records import FILE > imported.json');
        } else {
          printJson(result, { compact: true });
          note(summary);
        }
      }),
    );

  for (const name of ['get', 'show']) {
    connected(records.command(name))
      .description('a record with its enhancements, as JSON')
      .argument('<id>', 'record id')
      .action(withClient(async (client, id: string) => printJson(await client.getRecord(id))));
  }

  connected(records.command('list'))
    .description('list records, oldest first, or look one up by identifier')
    .option('--type <type>', 'only records of this type')
    .option('--identifier <type:value>', 'only the record with this identifier, e.g. doi:10.1000/xyz')
    .option('--limit <n>', 'at most this many (default 100)', positiveInteger)
    .option('--all', 'every one, page after page')
    .action(
      withClient(async (client, flags: CommonFlags & { type?: string; identifier?: string; limit?: number; all?: boolean }) => {
        const bar = progress({ unit: 'items', printsMeanwhile: true });
        try {
          await printRecords(
            (pageSize) => client.iterateRecords({ type: flags.type, identifier: flags.identifier, limit: pageSize }),
            { ...flags, onRecord: () => bar.add(1) },
            flags.type || flags.identifier ? 'No records match.' : 'No records yet. Import some with: refinery records import FILE',
          );
        } finally {
          bar.stop();
        }
      }),
    );

  connected(records.command('search'))
    .description('records that match a query, oldest first (docs/queries.md), or with --count how many')
    .argument('<query>', 'a Lucene-style query string, e.g. \'type:reference AND content.year:>=2020\', or a JSON filter ({"type": "reference"})')
    .option('--count', 'only how many match')
    .option('--limit <n>', 'at most this many (default 100)', positiveInteger)
    .option('--all', 'every one, page after page')
    .action(
      withClient(async (client, text: string, flags: CommonFlags & { count?: boolean; limit?: number; all?: boolean }) => {
        const query = queryFromText(text);
        if (flags.count) {
          const counted = await client.countRecords(query);
          if (flags.json) return printJson(counted);
          return print(counted.lower_bound ? `At least ${count(counted.count)} records match.` : `${plural(counted.count, 'record')} match.`);
        }
        await printRecords((pageSize) => client.iterateSearch(query, { limit: pageSize }), flags, 'No records match.');
      }),
    );
}

/** A query as given on the command line: a query string, or a JSON filter (it starts with `{`). */
export function queryFromText(text: string): string | RecordFilter {
  return text.trimStart().startsWith('{') ? jsonFilter(text) : text;
}

/** A query given as a JSON filter (it starts with `{`). */
export function jsonFilter(text: string): RecordFilter {
  try {
    return JSON.parse(text) as RecordFilter;
  } catch (err) {
    throw new CliError(`the query starts with { but is not a JSON filter: ${(err as Error).message}`);
  }
}

/**
 * Prints the records `pages` yields (asked for in pages of `pageSize`), at most `--limit` of them
 * (every one with `--all`): a table, or with `--json` a JSON array, streamed as they come.
 */
async function printRecords(
  pages: (pageSize: number) => AsyncIterable<RecordOut>,
  flags: CommonFlags & { limit?: number; all?: boolean; onRecord?: () => void },
  none: string,
): Promise<void> {
  const limit = flags.all ? Infinity : (flags.limit ?? 100);
  let more = false;
  async function* taken() {
    let n = 0;
    for await (const record of pages(Math.min(limit + 1, 1000))) {
      if (n++ === limit) {
        more = true;
        return;
      }
      flags.onRecord?.();
      yield record;
    }
  }
  if (flags.json) return void (await printJsonArray(taken()));
  const row = rowPrinter([36, 12, 40]);
  let n = 0;
  for await (const record of taken()) {
    if (n++ === 0) row(['ID', 'TYPE', 'IDENTIFIERS', 'UPDATED']);
    row([record.id, record.type, record.identifiers.map((i) => `${i.type}:${i.value}`).join(' '), record.updated_at]);
  }
  if (n === 0) print(none);
  if (more) print(`(the first ${count(limit)}; --limit N or --all for more)`);
}
