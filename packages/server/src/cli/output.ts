/**
 * What the client commands print. stdout carries the answer (a table for a person, or JSON with
 * `--json`, or for commands whose answer you keep); stderr carries notes, hints and progress, so
 * that `> file` keeps only the answer.
 */

export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** On stderr: for the person, not for whatever reads stdout. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function printJson(value: unknown, options: { compact?: boolean } = {}): void {
  print(options.compact ? JSON.stringify(value) : JSON.stringify(value, null, 2));
}

/**
 * Prints the values as one JSON array, one element a line, as they come: a long list is never
 * held whole, and what is printed parses as JSON (and, but for the brackets and commas, as JSON Lines).
 */
export async function printJsonArray<T>(values: AsyncIterable<T>): Promise<number> {
  let n = 0;
  for await (const value of values) process.stdout.write(`${n++ === 0 ? '[\n' : ',\n'}${JSON.stringify(value)}`);
  process.stdout.write(n === 0 ? '[]\n' : '\n]\n');
  return n;
}

export function printTable(rows: string[][], options: { alignRight?: number[] } = {}): void {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  for (const row of rows) {
    const cells = row.map((cell, column) =>
      column === row.length - 1 && !options.alignRight?.includes(column)
        ? cell
        : options.alignRight?.includes(column)
          ? cell.padStart(widths[column]!)
          : cell.padEnd(widths[column]!),
    );
    print(cells.join('  ').trimEnd());
  }
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/** Prints the rows of a streamed list in columns of these widths (a stream cannot be measured first); the last column as it is. */
export function rowPrinter(widths: number[]): (cells: string[]) => void {
  return (cells) => print(cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}
