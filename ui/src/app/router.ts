//! A tiny history-API router: three pages do not need a library. The server
//! falls back to index.html for unknown paths, so deep links work.

import { createStore, useStore } from '../stores/create-store';

export type Route = { page: 'inbox'; id: number | null } | { page: 'settings' };

export function parseRoute(path: string): Route {
  if (path.startsWith('/settings')) return { page: 'settings' };
  const m = /^\/inbox\/(\d+)/.exec(path);
  return { page: 'inbox', id: m?.[1] ? Number(m[1]) : null };
}

const routeStore = createStore<Route>(parseRoute(typeof location === 'undefined' ? '/' : location.pathname));

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', () => routeStore.set(parseRoute(location.pathname)));
}

export function navigate(path: string): void {
  if (location.pathname !== path) history.pushState(null, '', path);
  routeStore.set(parseRoute(path));
}

export function useRoute(): Route {
  return useStore(routeStore, (r) => r);
}
