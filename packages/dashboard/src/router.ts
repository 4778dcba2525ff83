import { useEffect, useState } from 'preact/hooks';

/** The dashboard's pages live under /ui; a link within it changes the history, not the page. */
export const base = '/ui';

export function navigate(path: string): void {
  history.pushState(null, '', base + path);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** The path within /ui and its query, followed as the user moves. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const read = () => ({ path: location.pathname.slice(base.length) || '/', search: new URLSearchParams(location.search) });
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const on = () => setLoc(read());
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  return loc;
}

/** A left click on an in-dashboard link (`href` under /ui) moves without a reload. */
export function onLinkClick(e: MouseEvent): void {
  const a = (e.target as Element).closest('a');
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(base + '/')) return;
  e.preventDefault();
  navigate(url.pathname.slice(base.length) + url.search);
}
