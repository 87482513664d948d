//! The inbox page's list: filtered pages loaded on demand (infinite scroll),
//! kept in step with live notifications, read and ack events. Bounded at
//! MAX_LOADED items; beyond that the admin is asked to narrow the filters.

import type { Platform, StreamEvent } from '../platform/platform';
import { severityRank, type InboxItem, type Severity } from '../lib/types';
import { createStore } from './create-store';
import { applyAck, applyRead } from './notification-store';

export const PAGE_SIZE = 50;
export const MAX_LOADED = 1_000;

export interface InboxFilters {
  minSeverity: Severity | null;
  kind: string | null;
  unreadOnly: boolean;
}

export interface InboxState {
  filters: InboxFilters;
  items: InboxItem[];
  nextBefore: number | null;
  loading: boolean;
  /** No more pages, or the MAX_LOADED cap was reached. */
  done: boolean;
  capped: boolean;
  error: string | null;
  loaded: boolean;
  /** A deep-linked notification that is not in the loaded list. */
  extra: InboxItem | null;
}

const INITIAL: InboxState = {
  filters: { minSeverity: null, kind: null, unreadOnly: false },
  items: [],
  nextBefore: null,
  loading: false,
  done: false,
  capped: false,
  error: null,
  loaded: false,
  extra: null,
};

export function matchesFilters(n: { severity: Severity; kind: string }, f: InboxFilters): boolean {
  return (!f.minSeverity || severityRank(n.severity) >= severityRank(f.minSeverity)) && (!f.kind || n.kind === f.kind);
}

export function createInboxStore(platform: Pick<Platform, 'listNotifications'>) {
  const store = createStore<InboxState>(INITIAL);
  let generation = 0;

  async function loadMore() {
    const s = store.get();
    if (s.loading || s.done) return;
    const gen = generation;
    store.set({ ...s, loading: true, error: null });
    try {
      const page = await platform.listNotifications({
        limit: PAGE_SIZE,
        before: s.nextBefore,
        min_severity: s.filters.minSeverity,
        kind: s.filters.kind,
        unread: s.filters.unreadOnly,
      });
      if (gen !== generation) return;
      store.set((cur) => {
        const known = new Set(cur.items.map((x) => x.id));
        const items = [...cur.items, ...page.items.filter((x) => !known.has(x.id))];
        const capped = items.length >= MAX_LOADED;
        return {
          ...cur,
          items: items.slice(0, MAX_LOADED),
          nextBefore: page.next_before,
          loading: false,
          loaded: true,
          capped,
          done: capped || page.next_before === null,
        };
      });
    } catch (e) {
      if (gen !== generation) return;
      store.set((cur) => ({ ...cur, loading: false, error: e instanceof Error ? e.message : String(e) }));
    }
  }

  return {
    store,
    loadMore,
    setFilters(filters: InboxFilters) {
      generation += 1;
      store.set((s) => ({ ...INITIAL, filters, extra: s.extra }));
      void loadMore();
    },
    reload() {
      generation += 1;
      store.set((s) => ({ ...INITIAL, filters: s.filters, extra: s.extra }));
      void loadMore();
    },
    apply(e: StreamEvent) {
      switch (e.type) {
        case 'notification': {
          const n = e.notification;
          store.set((s) => {
            if (!s.loaded || !matchesFilters(n, s.filters) || s.items.some((x) => x.id === n.id)) return s;
            const items = [{ ...n, read: false, ack: null }, ...s.items].sort((a, b) => b.id - a.id);
            return { ...s, items: items.slice(0, MAX_LOADED) };
          });
          break;
        }
        case 'read':
          store.set((s) => ({
            ...s,
            items: s.items.map((x) => applyRead(x, e.read)),
            extra: s.extra && applyRead(s.extra, e.read),
          }));
          break;
        case 'ack':
          store.set((s) => ({
            ...s,
            items: s.items.map((x) => applyAck(x, e.ack.id, e.ack.ack)),
            extra: s.extra && applyAck(s.extra, e.ack.id, e.ack.ack),
          }));
          break;
        default:
          break;
      }
    },
    patch(id: number, change: Partial<InboxItem>) {
      store.set((s) => ({
        ...s,
        items: s.items.map((x) => (x.id === id ? { ...x, ...change } : x)),
        extra: s.extra?.id === id ? { ...s.extra, ...change } : s.extra,
      }));
    },
    find(id: number): InboxItem | undefined {
      const s = store.get();
      return s.items.find((x) => x.id === id) ?? (s.extra?.id === id ? s.extra : undefined);
    },
    /**
     * Loads one notification for a deep link. There is no single-item
     * endpoint; the page of one just below `id + 1` is that notification.
     */
    async loadOne(id: number): Promise<boolean> {
      try {
        const page = await platform.listNotifications({ limit: 1, before: id + 1 });
        const item = page.items[0];
        if (item?.id !== id) return false;
        store.set((s) => ({ ...s, extra: item }));
        return true;
      } catch {
        return false;
      }
    },
    clear() {
      generation += 1;
      store.set(INITIAL);
    },
  };
}

export type InboxStore = ReturnType<typeof createInboxStore>;
