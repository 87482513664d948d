//! The one door from features to the app: the app model, handed down through
//! React context, and the router. `app/` builds the model and provides it;
//! features import this module and never `app/`, so imports run one way,
//! app → features → shared (`components`, `stores`, `lib`, `platform`), as
//! `eslint.config.js` enforces.
//!
//! `AppModel` is declared here rather than inferred from `createAppModel`,
//! so this module needs nothing from `app/`; `app/app-model.ts` is annotated
//! with it and the compiler keeps the two in step.
//!
//! The router is a tiny history-API store: three pages do not need a
//! library. The server falls back to index.html for unknown paths, so deep
//! links work.

import { createContext, useContext } from 'react';
import type { Preferences } from '../lib/types';
import type { Platform, Session } from '../platform/platform';
import { createStore, useStore, type Store } from './create-store';
import type { InboxStore } from './inbox-store';
import type { NotificationStore } from './notification-store';
import type { ToastStore } from './toast-store';

/** What the app offers its screens: the platform, the stores, and the actions. */
export interface AppModel {
  readonly platform: Platform;
  readonly toasts: ToastStore;
  readonly notifications: NotificationStore;
  readonly inbox: InboxStore;
  readonly session: Store<Session | null>;
  /** Opens the stream for the current session. */
  start(): void;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  markRead(id: number): Promise<void>;
  markUnread(id: number): Promise<void>;
  markAllRead(): Promise<void>;
  ack(id: number, note?: string, force?: boolean): Promise<void>;
  release(id: number, force?: boolean): Promise<void>;
  savePreferences(p: Preferences): Promise<Preferences>;
}

export const AppContext = createContext<AppModel | null>(null);

export function useApp(): AppModel {
  const m = useContext(AppContext);
  if (!m) throw new Error('AppContext missing');
  return m;
}

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
