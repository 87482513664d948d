//! Toasts, sonner-style: a bounded queue outside React. At most three are
//! visible; only visible, non-sticky toasts count down, and the countdown
//! pauses while the pointer is over them or the window is hidden.

import type { Notification } from '../lib/types';
import { createStore } from './create-store';

export const TOAST_MS = 5_000;
export const MAX_VISIBLE = 3;
/** Queued toasts kept; older non-sticky ones are dropped beyond this. */
export const MAX_QUEUED = 50;
export const BACKLOG_KEY = 'backlog';

export interface Toast {
  key: string;
  notification: Notification | null;
  /** For the backlog summary: how many replayed notifications it stands for. */
  count: number;
  criticalCount: number;
  sticky: boolean;
  remaining: number;
}

interface ToastState {
  /** Newest first. */
  toasts: Toast[];
  paused: boolean;
  hidden: boolean;
}

export function createToastStore(now: () => number = Date.now) {
  const store = createStore<ToastState>({ toasts: [], paused: false, hidden: false });
  const timers = new Map<string, { handle: ReturnType<typeof setTimeout>; started: number }>();

  function stopTimer(key: string, keepRemaining: boolean) {
    const t = timers.get(key);
    if (!t) return;
    clearTimeout(t.handle);
    timers.delete(key);
    if (keepRemaining) {
      const elapsed = now() - t.started;
      store.set((s) => ({
        ...s,
        toasts: s.toasts.map((x) => (x.key === key ? { ...x, remaining: Math.max(0, x.remaining - elapsed) } : x)),
      }));
    }
  }

  /** Starts and stops countdowns to match what is visible and running. */
  function sync() {
    const s = store.get();
    const running = !s.paused && !s.hidden;
    const visible = new Set(s.toasts.slice(0, MAX_VISIBLE).map((t) => t.key));
    for (const key of [...timers.keys()]) {
      const t = s.toasts.find((x) => x.key === key);
      if (!t || !running || !visible.has(key) || t.sticky) stopTimer(key, Boolean(t));
    }
    if (!running) return;
    for (const t of store.get().toasts.slice(0, MAX_VISIBLE)) {
      if (t.sticky || timers.has(t.key)) continue;
      const handle = setTimeout(() => {
        timers.delete(t.key);
        dismiss(t.key);
      }, t.remaining);
      timers.set(t.key, { handle, started: now() });
    }
  }

  function push(toast: Toast) {
    store.set((s) => {
      let toasts = [toast, ...s.toasts.filter((x) => x.key !== toast.key)];
      if (toasts.length > MAX_QUEUED) {
        const dropIdx = toasts.map((x) => x.sticky).lastIndexOf(false);
        toasts = toasts.filter((_, i) => i !== (dropIdx >= 0 ? dropIdx : toasts.length - 1));
      }
      return { ...s, toasts };
    });
    sync();
  }

  function dismiss(key: string) {
    stopTimer(key, false);
    store.set((s) => ({ ...s, toasts: s.toasts.filter((x) => x.key !== key) }));
    sync();
  }

  return {
    store,
    /** One toast per live notification. */
    notify(n: Notification) {
      push({
        key: `n-${n.id}`,
        notification: n,
        count: 1,
        criticalCount: n.severity === 'critical' ? 1 : 0,
        sticky: n.severity === 'critical',
        remaining: TOAST_MS,
      });
    },
    /** Replayed backlog: folds into one summary toast. */
    backlog(n: Notification) {
      const prev = store.get().toasts.find((t) => t.key === BACKLOG_KEY);
      stopTimer(BACKLOG_KEY, false);
      const criticalCount = (prev?.criticalCount ?? 0) + (n.severity === 'critical' ? 1 : 0);
      push({
        key: BACKLOG_KEY,
        notification: null,
        count: (prev?.count ?? 0) + 1,
        criticalCount,
        sticky: criticalCount > 0,
        remaining: TOAST_MS,
      });
    },
    dismiss,
    dismissNotification(id: number) {
      dismiss(`n-${id}`);
    },
    clear() {
      for (const key of [...timers.keys()]) stopTimer(key, false);
      store.set((s) => ({ ...s, toasts: [] }));
    },
    setPaused(paused: boolean) {
      store.set((s) => (s.paused === paused ? s : { ...s, paused }));
      sync();
    },
    setHidden(hidden: boolean) {
      store.set((s) => (s.hidden === hidden ? s : { ...s, hidden }));
      sync();
    },
  };
}

export type ToastStore = ReturnType<typeof createToastStore>;
