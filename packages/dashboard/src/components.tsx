import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiError, type Page } from './api.ts';

export function ProgressBar({ value, label }: { value: number; label?: string }) {
  const pct = Math.round(value * 1000) / 10;
  return (
    <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-label={label ?? 'progress'}>
      <div class="bar" style={{ width: `${pct}%` }} />
      <span>{pct}%</span>
    </div>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const text = error instanceof ApiError ? `${error.code}: ${error.message}` : String(error);
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

export function when(t: string | null): string {
  return t ? new Date(t).toLocaleString() : '—';
}

export function ago(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

/**
 * A table's rows, one API page at a time: `load(cursor)` fetches a page; "More" fetches the next,
 * from the cursor the last one gave. `deps` start it over.
 */
export function usePaged<T>(load: (cursor: string | null) => Promise<Page<T>>, deps: unknown[]) {
  const [rows, setRows] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const generation = useRef(0);
  const fetchPage = async (cursor: string | null, replace: boolean) => {
    const gen = ++generation.current;
    setLoading(true);
    try {
      const p = await load(cursor);
      if (gen !== generation.current) return;
      setRows((old) => (replace ? p.data : [...old, ...p.data]));
      setNext(p.next_cursor);
      setError(null);
    } catch (e) {
      if (gen === generation.current) setError(e);
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  };
  useEffect(() => {
    setRows([]);
    setNext(null);
    void fetchPage(null, true);
  }, deps);
  return { rows, setRows, error, loading, more: next ? () => fetchPage(next, false) : null, reload: () => fetchPage(null, true) };
}

export function More({ more, loading }: { more: (() => void) | null; loading: boolean }) {
  if (!more) return null;
  return (
    <button class="more" disabled={loading} onClick={more}>
      More
    </button>
  );
}

/** A time series drawn with uPlot: `x` in seconds since the epoch, one line per series. */
export function Chart({ title, x, series }: { title: string; x: number[]; series: Array<{ label: string; values: number[]; stroke: string }> }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!el.current) return;
    const opts: uPlot.Options = {
      title,
      width: Math.min(900, el.current.clientWidth || 900),
      height: 240,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: true } }))],
      axes: [{}, { label: 'items / s' }],
    };
    // One point alone would stretch the time axis over years: empty points a minute either side of it.
    const data = (
      x.length === 1 ? [[x[0] - 60, x[0], x[0] + 60], ...series.map((s) => [null, s.values[0], null])] : [x, ...series.map((s) => s.values)]
    ) as uPlot.AlignedData;
    if (plot.current) plot.current.setData(data);
    else plot.current = new uPlot(opts, data, el.current);
  }, [x, series]);
  useEffect(() => () => plot.current?.destroy(), []);
  return <div class="chart" ref={el} />;
}

export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section>
      <h2>{title}</h2>
      {children}
    </section>
  );
}
