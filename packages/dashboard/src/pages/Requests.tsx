import { useEffect, useState } from 'preact/hooks';
import { api, openRequestStatuses, progressOf, query, watchRequest, type Page, type RequestOut, type Session } from '../api.ts';
import { ErrorNote, More, ProgressBar, usePaged, when } from '../components.tsx';
import { navigate } from '../router.ts';

const requestStatuses = ['received', 'processing', 'completed', 'completed_with_errors', 'failed', 'cancelled', 'expired'];
/**
 * Open requests on the list that get a live stream each. A browser opens at most six connections
 * to one server over HTTP/1.1; more streams would hold back the page's other calls.
 */
const liveStreams = 4;

interface Named {
  id: string;
  name: string;
}

export function Requests({ session, search }: { session: Session; search: URLSearchParams }) {
  const status = search.get('status') ?? '';
  const robot = search.get('robot_id') ?? '';
  const requester = search.get('requested_by') ?? '';
  const admin = session.role === 'admin';
  const [robots, setRobots] = useState<Named[]>([]);
  const [keys, setKeys] = useState<Named[]>([]);

  useEffect(() => {
    if (!admin) return;
    // The filters' choices: the first page of robots, and the keys.
    api<Page<Named>>(session.key, 'GET', '/v1/robots?limit=1000').then((p) => setRobots(p.data), () => {});
    api<{ data: Named[] }>(session.key, 'GET', '/v1/api-keys').then((p) => setKeys(p.data), () => {});
  }, [admin]);

  const list = usePaged<RequestOut>(
    (cursor) => api(session.key, 'GET', `/v1/requests${query({ status, robot_id: robot, requested_by: requester, cursor, limit: 25 })}`),
    [status, robot, requester],
  );

  const open = list.rows.filter((r) => openRequestStatuses.includes(r.status)).slice(0, liveStreams).map((r) => r.id);
  useEffect(() => {
    const closers = open.map((id) =>
      watchRequest(session.key, id, (_type, e) => {
        list.setRows((rows) => rows.map((r) => (r.id === id ? { ...r, status: e.status, counts: e.counts, total: e.total, progress: progressOf(e) } : r)));
      }),
    );
    return () => closers.forEach((close) => close());
  }, [open.join()]);

  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(name, value);
    else next.delete(name);
    const q = next.toString();
    navigate(`/${q ? `?${q}` : ''}`);
  };
  const robotName = (id: string) => robots.find((r) => r.id === id)?.name ?? id.slice(0, 8);
  const keyName = (id: string) => keys.find((k) => k.id === id)?.name ?? (id === session.id ? session.name : id.slice(0, 8));

  return (
    <main>
      <h1>Requests</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status{' '}
          <select name="status" value={status} onChange={(e) => setFilter('status', e.currentTarget.value)}>
            <option value="">any</option>
            {requestStatuses.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        {admin && (
          <label>
            Robot{' '}
            <select name="robot_id" value={robot} onChange={(e) => setFilter('robot_id', e.currentTarget.value)}>
              <option value="">any</option>
              {robots.map((r) => (
                <option value={r.id}>{r.name}</option>
              ))}
            </select>
          </label>
        )}
        {admin && (
          <label>
            Requester{' '}
            <select name="requested_by" value={requester} onChange={(e) => setFilter('requested_by', e.currentTarget.value)}>
              <option value="">any</option>
              {keys.map((k) => (
                <option value={k.id}>{k.name}</option>
              ))}
            </select>
          </label>
        )}
      </form>
      <ErrorNote error={list.error} />
      <table class="requests">
        <thead>
          <tr>
            <th>Request</th>
            <th>Status</th>
            <th>Progress</th>
            <th>Items</th>
            <th>Robot</th>
            <th>Requester</th>
            <th>Priority</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {list.rows.map((r) => (
            <tr data-request-id={r.id}>
              <td>
                <a href={`/ui/requests/${r.id}`}>{r.id}</a>
              </td>
              <td class={`status ${r.status}`}>{r.status}</td>
              <td>
                <ProgressBar value={r.progress} label={`progress of ${r.id}`} />
              </td>
              <td>{r.total}</td>
              <td>{robotName(r.robot_id)}</td>
              <td>{keyName(r.requested_by)}</td>
              <td>{r.priority}</td>
              <td>{when(r.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!list.loading && list.rows.length === 0 && !list.error && <p class="empty">No requests.</p>}
      <More more={list.more} loading={list.loading} />
    </main>
  );
}
