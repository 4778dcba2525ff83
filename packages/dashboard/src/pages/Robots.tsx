import { useState } from 'preact/hooks';
import { api, query, type Session } from '../api.ts';
import { ago, ErrorNote, More, usePaged, when } from '../components.tsx';

interface RobotStats {
  id: string;
  name: string;
  active: boolean;
  mode: 'pull' | 'push';
  last_seen_at: string | null;
  leases_held: number;
  items_per_minute: number;
  error_rate: number | null;
  lease_expiries_last_hour: number;
}

export function Robots({ session }: { session: Session }) {
  const list = usePaged<RobotStats>((cursor) => api(session.key, 'GET', `/v1/robots/stats${query({ cursor, limit: 50 })}`), []);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [error, setError] = useState<unknown>(null);

  const setActive = async (r: RobotStats, active: boolean) => {
    setError(null);
    try {
      await api(session.key, 'PATCH', `/v1/robots/${r.id}`, { active });
      list.setRows((rows) => rows.map((x) => (x.id === r.id ? { ...x, active } : x)));
    } catch (e) {
      setError(e);
    }
  };
  const rotate = async (r: RobotStats) => {
    if (!confirm(`Issue a new secret for ${r.name}? The current one keeps working for an hour.`)) return;
    setError(null);
    try {
      const out = await api<{ name: string; secret: string }>(session.key, 'POST', `/v1/robots/${r.id}/secrets`, {});
      setSecret({ name: out.name, secret: out.secret });
    } catch (e) {
      setError(e);
    }
  };

  return (
    <main>
      <h1>Robots</h1>
      {secret && (
        <div class="secret" role="status">
          <p>
            New secret of <strong>{secret.name}</strong>, shown once: copy it now.
          </p>
          <code data-testid="new-secret">{secret.secret}</code>
          <button onClick={() => setSecret(null)}>Done</button>
        </div>
      )}
      <ErrorNote error={error ?? list.error} />
      <table class="robots">
        <thead>
          <tr>
            <th>Robot</th>
            <th>State</th>
            <th>Delivery</th>
            <th>Last seen</th>
            <th>Leases held</th>
            <th>Items / min</th>
            <th>Error rate</th>
            <th>Lease expiries (1 h)</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.rows.map((r) => (
            <tr data-robot={r.name}>
              <td>{r.name}</td>
              <td class={`state ${r.active ? 'active' : 'paused'}`}>{r.active ? 'active' : 'paused'}</td>
              <td>{r.mode}</td>
              <td title={when(r.last_seen_at)}>{r.last_seen_at ? `${ago((Date.now() - new Date(r.last_seen_at).getTime()) / 1000)} ago` : 'never'}</td>
              <td>{r.leases_held}</td>
              <td>{r.items_per_minute.toFixed(1)}</td>
              <td>{r.error_rate === null ? '—' : `${(r.error_rate * 100).toFixed(1)}%`}</td>
              <td>{r.lease_expiries_last_hour}</td>
              <td class="actions">
                {r.active ? <button onClick={() => void setActive(r, false)}>Pause</button> : <button onClick={() => void setActive(r, true)}>Resume</button>}
                <button onClick={() => void rotate(r)}>Rotate secret</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!list.loading && list.rows.length === 0 && <p class="empty">No robots.</p>}
      <More more={list.more} loading={list.loading} />
    </main>
  );
}
