//! Notification state for the bell, the dropdown and toasts: unread counts
//! per severity (authoritative from the server, bumped locally for live
//! arrivals), the most recent notifications with read and ack state, the
//! connection status and the admin's preferences. Memory is bounded: only
//! the newest MAX_RECENT notifications and MAX_SEEN ids are kept.
//!
//! It also decides what alerts: a toast, the chime and an OS pop-up (where
//! the platform raises them from the page) for each live notification that
//! passes the pop-up rules, and one summary for a replayed backlog.

import type { ConnectionStatus, StreamEvent } from '../platform/platform';
import { decidePopup, planPopups, type Popup } from '../lib/popup-rules';
import {
  DEFAULT_PREFERENCES,
  NO_UNREAD,
  type Ack,
  type InboxItem,
  type Notification,
  type Preferences,
  type ReadEvent,
  type Severity,
  type UnreadCounts,
} from '../lib/types';
import { createStore } from './create-store';
import type { ToastStore } from './toast-store';

export const MAX_RECENT = 100;
const MAX_SEEN = 2_048;

export interface NotificationState {
  status: ConnectionStatus;
  unread: UnreadCounts;
  /** Newest first, at most MAX_RECENT. */
  items: InboxItem[];
  preferences: Preferences;
}

export function applyRead<T extends { id: number; read: boolean }>(item: T, ev: Pick<ReadEvent, 'ids' | 'up_to' | 'unread_again'>): T {
  const hit = ev.ids ? ev.ids.includes(item.id) : ev.up_to !== undefined && item.id <= ev.up_to;
  if (!hit) return item;
  const read = !ev.unread_again;
  return item.read === read ? item : { ...item, read };
}

export function applyAck<T extends { id: number; ack: Ack | null }>(item: T, id: number, ack: Ack | null): T {
  return item.id === id ? { ...item, ack } : item;
}

export interface NotificationStoreOptions {
  toasts?: ToastStore;
  playSound?: (s: Severity) => void;
  now?: () => Date;
  /**
   * Raises an OS pop-up (browser mode only; the desktop app raises its own).
   * `realert` marks a repeat for an unacknowledged critical notification.
   */
  osPopup?: (popup: Popup, realert: boolean) => void;
  /** Closes the OS pop-up of a notification someone acknowledged. */
  osClose?: (id: number) => void;
}

export function createNotificationStore(opts: NotificationStoreOptions = {}) {
  const now = opts.now ?? (() => new Date());
  const store = createStore<NotificationState>({
    status: { state: 'connecting' },
    unread: NO_UNREAD,
    items: [],
    preferences: DEFAULT_PREFERENCES,
  });
  const seen = new Set<number>();
  /**
   * Ids that already made a toast or joined a backlog summary. Separate from
   * `seen`: the history fetched on `ready` can bring a notification before its
   * own stream frame does, and that frame must still pop up (once).
   */
  const announced = new Set<number>();
  /** When each critical notification last alerted in this session, for re-alerts. */
  const alertedAt = new Map<number, number>();
  /** Counts stream events that change counts or item state; see `mergeHistory`. */
  let eventSeq = 0;
  /**
   * The replayed backlog of the current connection, held until it is complete
   * (its last id is `ready.last_id`) so that it makes OS pop-ups as one batch.
   */
  let backlog: Notification[] = [];
  let replayUntil: number | null = null;

  function remember(id: number, set: Set<number> = seen): boolean {
    if (set.has(id)) return false;
    set.add(id);
    if (set.size > MAX_SEEN) {
      const oldest = set.values().next().value;
      if (oldest !== undefined) set.delete(oldest);
    }
    return true;
  }

  function insert(items: InboxItem[], item: InboxItem): InboxItem[] {
    const rest = items.filter((x) => x.id !== item.id);
    const idx = rest.findIndex((x) => x.id < item.id);
    const next = idx < 0 ? [...rest, item] : [...rest.slice(0, idx), item, ...rest.slice(idx)];
    return next.slice(0, MAX_RECENT);
  }

  function onNotification(n: Notification, replayed: boolean) {
    const isNew = remember(n.id) && !store.get().items.some((x) => x.id === n.id);
    if (isNew) {
      store.set((s) => ({
        ...s,
        items: insert(s.items, { ...n, read: false, ack: null }),
        // Replayed backlog is already in ready's counts.
        unread: replayed
          ? s.unread
          : { ...s.unread, total: s.unread.total + 1, [n.severity]: s.unread[n.severity] + 1 },
      }));
    }
    const first = remember(n.id, announced);
    if (replayed) {
      if (first) {
        opts.toasts?.backlog(n);
        backlog.push(n);
      }
      if (replayUntil !== null && n.id >= replayUntil) flushBacklog();
      return;
    }
    // Live frames come after the replay, so whatever was replayed is complete.
    flushBacklog();
    if (first) alert(n);
  }

  function alert(n: Notification, again = false) {
    if (n.severity === 'critical') alertedAt.set(n.id, now().getTime());
    const popup = decidePopup(n, store.get().preferences, now());
    if (!popup) return;
    opts.toasts?.notify(n);
    if (popup.sound) opts.playSound?.(n.severity);
    opts.osPopup?.(popup, again);
  }

  /** Turns the held backlog into its OS pop-ups: each one, or one summary. */
  function flushBacklog() {
    replayUntil = null;
    if (backlog.length === 0) return;
    const batch = backlog;
    backlog = [];
    for (const popup of planPopups(batch, store.get().preferences, now())) opts.osPopup?.(popup, false);
  }

  return {
    store,
    /** A mark to pass back to `mergeHistory` with the page fetched after it. */
    mark(): number {
      return eventSeq;
    },
    apply(e: StreamEvent) {
      if (e.type === 'notification' || e.type === 'read' || e.type === 'ack') eventSeq += 1;
      switch (e.type) {
        case 'status':
          // A connection that ends mid-replay still announces what it replayed.
          if (e.status.state !== 'live') flushBacklog();
          store.set((s) => ({ ...s, status: e.status }));
          break;
        case 'ready':
          flushBacklog();
          replayUntil = e.ready.last_id;
          store.set((s) => ({ ...s, unread: e.ready.unread }));
          break;
        case 'notification':
          onNotification(e.notification, e.replayed);
          break;
        case 'read':
          store.set((s) => ({ ...s, unread: e.read.unread, items: s.items.map((x) => applyRead(x, e.read)) }));
          break;
        case 'ack':
          store.set((s) => ({ ...s, items: s.items.map((x) => applyAck(x, e.ack.id, e.ack.ack)) }));
          if (e.ack.ack) {
            opts.toasts?.dismissNotification(e.ack.id);
            opts.osClose?.(e.ack.id);
          }
          break;
        case 'preferences':
          store.set((s) => ({ ...s, preferences: e.preferences }));
          break;
        case 'reset':
          flushBacklog();
          seen.clear();
          break;
      }
    },
    /**
     * A fresh first page from the server. Its read and ack state and counts
     * win, unless stream events arrived while it was in flight (`since` from
     * `mark()`): then the page may be older than what we know, so it only adds
     * notifications we did not have.
     */
    mergeHistory(items: InboxItem[], unread: UnreadCounts, since: number = eventSeq) {
      const stale = since !== eventSeq;
      for (const it of items) remember(it.id);
      store.set((s) => {
        let next = s.items;
        for (const it of items) {
          if (stale && next.some((x) => x.id === it.id)) continue;
          next = insert(next, it);
        }
        return { ...s, items: next, unread: stale ? s.unread : unread };
      });
    },
    /** Replaces everything after a `reset`. */
    replaceHistory(items: InboxItem[], unread: UnreadCounts) {
      seen.clear();
      for (const it of items) remember(it.id);
      store.set((s) => ({ ...s, items: items.slice(0, MAX_RECENT), unread }));
    },
    setUnread(unread: UnreadCounts) {
      store.set((s) => ({ ...s, unread }));
    },
    markReadLocally(ids: number[] | 'all', read = true) {
      store.set((s) => ({
        ...s,
        items: s.items.map((x) => (ids === 'all' || ids.includes(x.id) ? { ...x, read } : x)),
      }));
    },
    setAck(id: number, ack: Ack | null) {
      store.set((s) => ({ ...s, items: s.items.map((x) => applyAck(x, id, ack)) }));
    },
    setPreferences(preferences: Preferences) {
      store.set((s) => ({ ...s, preferences }));
    },
    /**
     * Alerts again for critical notifications that arrived live and are still
     * unacknowledged after `realert_minutes` (0 turns re-alerts off).
     */
    realert() {
      const minutes = store.get().preferences.realert_minutes;
      const t = now().getTime();
      for (const [id, at] of alertedAt) {
        const item = store.get().items.find((x) => x.id === id);
        if (!item || item.ack) {
          alertedAt.delete(id);
          continue;
        }
        if (minutes > 0 && t - at >= minutes * 60_000) alert(item, true);
      }
    },
    find(id: number): InboxItem | undefined {
      return store.get().items.find((x) => x.id === id);
    },
    reset() {
      backlog = [];
      replayUntil = null;
      seen.clear();
      announced.clear();
      alertedAt.clear();
      store.set({ status: { state: 'connecting' }, unread: NO_UNREAD, items: [], preferences: DEFAULT_PREFERENCES });
    },
  };
}

export type NotificationStore = ReturnType<typeof createNotificationStore>;
