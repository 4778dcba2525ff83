import { render } from 'preact';
import { useState } from 'preact/hooks';
import { api, loadSession, saveSession, type Session } from './api.ts';
import { ErrorNote } from './components.tsx';
import { OverviewPage } from './pages/Overview.tsx';
import { Request } from './pages/Request.tsx';
import { Requests } from './pages/Requests.tsx';
import { Robots } from './pages/Robots.tsx';
import { onLinkClick, useLocation } from './router.ts';
import './style.css';

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await api<{ id: string; name: string; role: Session['role'] }>(key.trim(), 'GET', '/v1/api-keys/me');
      onSignedIn({ key: key.trim(), ...me });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Refinery</h1>
      <form onSubmit={submit}>
        <label>
          API key <input type="password" name="key" autocomplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} required />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <ErrorNote error={error} />
    </main>
  );
}

function App() {
  const [session, setSession] = useState(loadSession);
  const { path, search } = useLocation();
  const signIn = (s: Session | null) => {
    saveSession(s);
    setSession(s);
  };
  if (!session) return <SignIn onSignedIn={signIn} />;
  const admin = session.role === 'admin';
  const request = /^\/requests\/([^/]+)$/.exec(path);
  let page;
  if (request) page = <Request session={session} id={decodeURIComponent(request[1])} search={search} />;
  else if (path === '/robots' && admin) page = <Robots session={session} />;
  else if (path === '/overview' && admin) page = <OverviewPage session={session} />;
  else page = <Requests session={session} search={search} />;
  return (
    <div onClick={(e) => onLinkClick(e)}>
      <nav>
        <strong>Refinery</strong>
        <a href="/ui/">Requests</a>
        {admin && <a href="/ui/robots">Robots</a>}
        {admin && <a href="/ui/overview">Overview</a>}
        <span class="who">
          {session.name} ({session.role})
        </span>
        <button onClick={() => signIn(null)}>Sign out</button>
      </nav>
      {page}
    </div>
  );
}

render(<App />, document.getElementById('app')!);
