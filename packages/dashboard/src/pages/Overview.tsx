import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type Session } from '../api.ts';
import { ago, Chart, ErrorNote, Section } from '../components.tsx';

interface Overview {
  queue: Array<{ robot_id: string; robot_name: string; priority: string; pending: number; oldest_available_at: string }>;
  oldest_pending_age_seconds: number | null;
  finished_last_hour: Array<{ at: string; completed_per_second: number; failed_per_second: number }>;
  webhooks: { failing: number; last_error: string | null };
}

export function OverviewPage({ session }: { session: Session }) {
  const [data, setData] = useState<Overview | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api<Overview>(session.key, 'GET', '/v1/overview').then(setData, setError);
  }, []);
  const chart = useMemo(
    () =>
      data && {
        x: data.finished_last_hour.map((p) => new Date(p.at).getTime() / 1000),
        series: [
          { label: 'completed / s', values: data.finished_last_hour.map((p) => p.completed_per_second), stroke: '#2a7' },
          { label: 'failed / s', values: data.finished_last_hour.map((p) => p.failed_per_second), stroke: '#c33' },
        ],
      },
    [data],
  );
  if (!data) return <main>{error ? <ErrorNote error={error} /> : <p>Loading…</p>}</main>;
  return (
    <main>
      <h1>Overview</h1>
      <p class="tiles">
        <span>
          Oldest pending item: <strong data-testid="oldest-pending">{ago(data.oldest_pending_age_seconds)}</strong>
        </span>
        <span>
          Webhook deliveries failing: <strong data-testid="webhooks-failing">{data.webhooks.failing}</strong>
          {data.webhooks.last_error && <em> (last: {data.webhooks.last_error})</em>}
        </span>
      </p>
      <Section title="Items finished, last hour">{chart && chart.x.length > 0 ? <Chart title="Items per second" x={chart.x} series={chart.series} /> : <p class="empty">Nothing finished in the last hour.</p>}</Section>
      <Section title="Queue depth">
        {data.queue.length === 0 ? (
          <p class="empty">No pending items.</p>
        ) : (
          <table class="queue">
            <thead>
              <tr>
                <th>Robot</th>
                <th>Priority</th>
                <th>Pending</th>
                <th>Oldest available</th>
              </tr>
            </thead>
            <tbody>
              {data.queue.map((q) => (
                <tr>
                  <td>{q.robot_name}</td>
                  <td>{q.priority}</td>
                  <td>{q.pending}</td>
                  <td>{ago((Date.now() - new Date(q.oldest_available_at).getTime()) / 1000)} ago</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </main>
  );
}
