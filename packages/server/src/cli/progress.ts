import { Transform } from 'node:stream';
import cliProgress from 'cli-progress';
import { itemFinalStatuses, type ItemCounts, type RequestOut } from '@refinery/protocol';
import { isFinalRequestStatus } from '@refinery/sdk';
import { count } from './output.ts';

/**
 * Progress goes to stderr, and only when stderr is a terminal: a log or a pipe never gets it. When
 * the command prints its answer on stdout as it goes (`printsMeanwhile`), only when stdout is not
 * that terminal too (redirected to a file), so that the bar and the rows never mix.
 */
export function progressWanted(options: { printsMeanwhile: boolean }): boolean {
  return Boolean(process.stderr.isTTY) && !(options.printsMeanwhile && process.stdout.isTTY);
}

export interface Progress {
  add(n: number): void;
  stop(): void;
}

const silent: Progress = { add() {}, stop() {} };

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);

/**
 * A bar of bytes sent or items listed on stderr, when progressWanted; without a `total`, a
 * running count. `stop` leaves it on its last value.
 */
export function progress(options: { unit: 'bytes' | 'items'; total?: number; printsMeanwhile: boolean }): Progress {
  if (!progressWanted(options)) return silent;
  const known = options.total !== undefined;
  const amount = options.unit === 'bytes' ? (known ? '{done}/{all} MB' : '{done} MB sent') : known ? '{done}/{all} items' : '{done} items';
  const bar = new cliProgress.SingleBar(
    { format: known ? `{bar} {percentage}% | ${amount} | {eta_formatted} left` : `${amount} | {duration_formatted}`, hideCursor: true, fps: 4 },
    cliProgress.Presets.shades_classic,
  );
  const shown = (n: number) => (options.unit === 'bytes' ? megabytes(n) : count(n));
  let done = 0;
  bar.start(options.total ?? 0, 0, { done: shown(0), all: shown(options.total ?? 0) });
  return {
    add(n) {
      done += n;
      bar.update(done, { done: shown(done) });
    },
    stop: () => bar.stop(),
  };
}

/** Passes bytes through, telling `progress` how many went by. */
export function counting(progress: Progress): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      progress.add(chunk.length);
      done(null, chunk);
    },
  });
}

// ── a request as it moves (requests watch) ───────────────────────────────────

export interface RequestDisplay {
  update(request: RequestOut): void;
  stop(): void;
}

function tally(counts: ItemCounts) {
  return {
    finished: itemFinalStatuses.reduce((sum, s) => sum + counts[s], 0),
    succeeded: counts.completed + counts.discarded,
    unsuccessful: counts.failed + counts.denied + counts.expired + counts.cancelled,
  };
}

/** A live bar on a terminal; plain lines on stderr otherwise (a log), at most one every 2 s. */
export function requestDisplay(): RequestDisplay {
  return process.stderr.isTTY ? requestBar() : requestLines();
}

function requestBar(): RequestDisplay {
  const bar = new cliProgress.SingleBar(
    {
      format: '{bar} {percentage}% | {value}/{total} items | completed {succeeded} · failed {unsuccessful} | {status} | {duration_formatted}',
      hideCursor: true,
      fps: 4,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(request) {
      const { finished, ...payload } = tally(request.counts);
      if (!started) bar.start(request.total, finished, { ...payload, status: request.status });
      else bar.update(finished, { ...payload, status: request.status });
      started = true;
    },
    stop: () => bar.stop(),
  };
}

function requestLines(): RequestDisplay {
  let lastLine = '';
  let lastAt = 0;
  return {
    update(request) {
      const { finished, succeeded, unsuccessful } = tally(request.counts);
      const percent = request.total === 0 ? 100 : Math.floor((finished / request.total) * 100);
      const line = `${request.status} ${count(finished)}/${count(request.total)} (${percent}%) completed ${count(succeeded)} failed ${count(unsuccessful)}`;
      const final = isFinalRequestStatus(request.status);
      if (line === lastLine || (!final && Date.now() - lastAt < 2_000)) return;
      process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      lastLine = line;
      lastAt = Date.now();
    },
    stop() {},
  };
}
