import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, openRequestStatuses, progressOf, query, watchRequest, type Counts, type Page, type RequestOut, type Session } from '../api.ts';
import { Chart, ErrorNote, More, ProgressBar, Section, usePaged, when } from '../components.tsx';
import { navigate } from '../router.ts';

const itemStatuses: Array<keyof Counts> = ['pending', 'leased', 'importing', 'completed', 'discarded', 'failed', 'denied', 'expired', 'cancelled'];

interface ItemOut {
  record_id: string;
  status: string;
  attempts: number;
  batch_id: string | null;
  error: { code: string; message: string } | null;
  updated_at: string;
}
interface BatchOut {
  id: string;
  status: string;
  attempt: number;
  item_count: number;
  created_at: string;
  report_url: string | null;
}
interface ErrorGroup {
  code: string;
  status: string;
  count: number;
  message: string;
}
interface Throughput {
  bucket_seconds: number;
  data: Array<{ at: string; completed: number; failed: number; discarded: number }>;
}

/** The plot and the error groups are read again at most this often while progress events come. */
const refreshMs = 3000;

export function Request({ session, id, search }: { session: Session; id: string; search: URLSearchParams }) {
  const [request, setRequest] = useState<RequestOut | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [groups, setGroups] = useState<ErrorGroup[]>([]);
  const [throughput, setThroughput] = useState<Throughput | null>(null);
  const [tick, setTick] = useState(0);
  const itemStatus = search.get('status') ?? '';

  const load = () =>
    api<RequestOut>(session.key, 'GET', `/v1/requests/${id}`).then(
      (r) => {
        setRequest(r);
        setError(null);
      },
      setError,
    );
  useEffect(() => {
    void load();
  }, [id]);

  // Live counts from the request's event stream; the plot and the groups follow, throttled.
  const open = request ? openRequestStatuses.includes(request.status) : false;
  useEffect(() => {
    if (!open) return;
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const close = watchRequest(session.key, id, (type, e) => {
      setRequest((r) => (r ? { ...r, status: e.status, total: e.total, counts: e.counts, progress: progressOf(e) } : r));
      if (type === 'request.finished') {
        void load();
        setTick((t) => t + 1);
        return;
      }
      const wait = Math.max(0, last + refreshMs - Date.now());
      clearTimeout(timer);
      timer = setTimeout(() => {
        last = Date.now();
        setTick((t) => t + 1);
      }, wait);
    });
    return () => {
      clearTimeout(timer);
      close();
    };
  }, [id, open]);

  useEffect(() => {
    api<{ data: ErrorGroup[] }>(session.key, 'GET', `/v1/requests/${id}/errors`).then((g) => setGroups(g.data), setError);
    api<Throughput>(session.key, 'GET', `/v1/requests/${id}/throughput`).then(setThroughput, setError);
  }, [id, tick]);

  const items = usePaged<ItemOut>((cursor) => api(session.key, 'GET', `/v1/requests/${id}/items${query({ status: itemStatus, cursor, limit: 50 })}`), [id, itemStatus, request?.status]);
  const batches = usePaged<BatchOut>((cursor) => api(session.key, 'GET', `/v1/requests/${id}/batches${query({ cursor, limit: 20 })}`), [id, request?.finished_at]);

  const chart = useMemo(() => {
    if (!throughput) return null;
    const per = throughput.bucket_seconds;
    return {
      x: throughput.data.map((p) => new Date(p.at).getTime() / 1000),
      series: [
        { label: 'completed / s', values: throughput.data.map((p) => p.completed / per), stroke: '#2a7' },
        { label: 'failed / s', values: throughput.data.map((p) => p.failed / per), stroke: '#c33' },
      ],
    };
  }, [throughput]);

  const act = async (what: 'cancel' | 'retry') => {
    setActionError(null);
    try {
      const r = await api<RequestOut>(session.key, 'POST', `/v1/requests/${id}/${what}`, what === 'retry' ? {} : undefined);
      if (what === 'retry') navigate(`/requests/${r.id}`);
      else setRequest(r);
    } catch (e) {
      setActionError(e);
    }
  };
  const filterItems = (status: string) => navigate(`/requests/${id}${query({ status })}`);

  if (!request) return <main>{error ? <ErrorNote error={error} /> : <p>Loading…</p>}</main>;
  const finished = !open;
  return (
    <main>
      <h1>
        Request <span class="mono">{request.id}</span>
      </h1>
      <p>
        <span class={`status ${request.status}`} data-testid="request-status">
          {request.status}
        </span>{' '}
        · {request.total} {request.total === 1 ? 'item' : 'items'} · priority {request.priority} · created {when(request.created_at)} · finished {when(request.finished_at)}
        {request.retry_of && (
          <>
            {' '}
            · retries <a href={`/ui/requests/${request.retry_of}`}>{request.retry_of}</a>
          </>
        )}
      </p>
      <ProgressBar value={request.progress} label="request progress" />
      <p class="actions">
        {open && (
          <button class="danger" onClick={() => void act('cancel')}>
            Cancel request
          </button>
        )}
        {finished && request.counts.failed > 0 && <button onClick={() => void act('retry')}>Retry failed items</button>}
        {request.manifest_url && (
          <a href={request.manifest_url} target="_blank" rel="noopener">
            Manifest (JSONL)
          </a>
        )}
      </p>
      <ErrorNote error={actionError ?? error} />

      <Section title="Counts">
        <table class="counts">
          <tbody>
            <tr>
              {itemStatuses.map((s) => (
                <th>{s}</th>
              ))}
            </tr>
            <tr>
              {itemStatuses.map((s) => (
                <td data-count={s}>{request.counts[s]}</td>
              ))}
            </tr>
          </tbody>
        </table>
      </Section>

      <Section title="Throughput">{chart && chart.x.length > 0 ? <Chart title="Items finished per second" x={chart.x} series={chart.series} /> : <p class="empty">No progress yet.</p>}</Section>

      <Section title="Errors by code">
        {groups.length === 0 ? (
          <p class="empty">No errors.</p>
        ) : (
          <table class="errors">
            <thead>
              <tr>
                <th>Code</th>
                <th>Status</th>
                <th>Items</th>
                <th>Example message</th>
              </tr>
            </thead>
            <tbody>
              {groups.map((g) => (
                <tr>
                  <td class="mono">{g.code}</td>
                  <td>
                    <a href={`/ui/requests/${id}?status=${g.status}`}>{g.status}</a>
                  </td>
                  <td>{g.count}</td>
                  <td>{g.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <Section title="Items">
        <label>
          Status{' '}
          <select name="item-status" value={itemStatus} onChange={(e) => filterItems(e.currentTarget.value)}>
            <option value="">any</option>
            {itemStatuses.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <ErrorNote error={items.error} />
        <table class="items">
          <thead>
            <tr>
              <th>Record</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Error code</th>
              <th>Error message</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {items.rows.map((i) => (
              <tr>
                <td class="mono">{i.record_id}</td>
                <td class={`status ${i.status}`}>{i.status}</td>
                <td>{i.attempts}</td>
                <td class="mono">{i.error?.code ?? ''}</td>
                <td class="message">{i.error?.message ?? ''}</td>
                <td>{when(i.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {!items.loading && items.rows.length === 0 && <p class="empty">No items.</p>}
        <More more={items.more} loading={items.loading} />
      </Section>

      <Section title="Batches">
        <ErrorNote error={batches.error} />
        <table class="batches">
          <thead>
            <tr>
              <th>Batch</th>
              <th>Status</th>
              <th>Attempt</th>
              <th>Items</th>
              <th>Created</th>
              <th>Validation report</th>
            </tr>
          </thead>
          <tbody>
            {batches.rows.map((b) => (
              <tr>
                <td class="mono">{b.id}</td>
                <td>{b.status}</td>
                <td>{b.attempt}</td>
                <td>{b.item_count}</td>
                <td>{when(b.created_at)}</td>
                <td>
                  {b.report_url ? (
                    <a href={b.report_url} target="_blank" rel="noopener">
                      report
                    </a>
                  ) : (
                    '—'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!batches.loading && batches.rows.length === 0 && <p class="empty">No batches.</p>}
        <More more={batches.more} loading={batches.loading} />
      </Section>
    </main>
  );
}
