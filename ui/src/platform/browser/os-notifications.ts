//! OS notifications in browser mode, through the Web Notifications API.
//!
//! The policy (threshold, muted kinds, quiet hours, backlog summary) is
//! decided outside, in lib/popup-rules.ts; this module only raises what it is
//! given, and only when the admin turned pop-ups on in this browser and the
//! browser granted permission. Permission is asked for only from `enable()`,
//! which Settings calls on a click: browsers ignore or penalise prompts that
//! no gesture asked for.
//!
//! Each pop-up carries a tag (`belfry-<id>`), and a record of the tags shown
//! in the last day is kept in localStorage and updated under a Web Lock, so a
//! second tab, a reload or a reconnect that replays the notification never
//! raises it again.

import type { Popup } from '../../lib/popup-rules';
import type { OsNotifications, OsPermission, OsPopupOptions } from '../platform';

/** localStorage key of the per-browser on/off choice. */
export const ENABLED_KEY = 'belfry.os-notifications';
/** localStorage key of the tags already shown, with when. */
export const SHOWN_KEY = 'belfry.os-notifications.shown';
const LOCK_NAME = 'belfry.os-notifications';
/**
 * Held for its whole life by the one tab that raises pop-ups. The record of
 * shown tags alone cannot stop two tabs: localStorage reaches other tabs'
 * processes a little later, so a second tab can read it stale even under
 * the lock. When the raising tab closes, the next one takes over.
 */
const LEADER_LOCK = 'belfry.os-notifications.leader';
/**
 * How long a shown tag is remembered: longer than a laptop sleeps between
 * workdays, so the replay after wake-up does not raise it again.
 */
export const SHOWN_TTL_MS = 24 * 3_600_000;
/** Tags remembered at most, newest kept, so the record stays small. */
export const MAX_SHOWN = 500;
/**
 * Every tab re-alerts unacknowledged criticals on its own timer (checked
 * every 30 s); a re-alert within this long of the last pop-up of the same
 * tag came from another tab and is dropped. Re-alerts are at least a minute apart.
 */
export const REALERT_DEDUPE_MS = 45_000;

export interface WebNotificationsDeps {
  /** The Notification constructor, looked up on every use (tests replace it). */
  ctor(): typeof Notification | undefined;
  /** Whether the page is a secure context; the API exists only in one. */
  secure(): boolean;
  storage(): Storage | null;
  locks(): LockManager | null;
  focus(): void;
  now(): number;
}

/** The tag of a pop-up: one per notification, and one per backlog summary. */
export function popupTag(popup: Pick<Popup, 'ids'>): string {
  if (popup.ids.length === 1) return `belfry-${popup.ids[0]}`;
  return `belfry-backlog-${popup.ids[popup.ids.length - 1] ?? 0}`;
}

export class WebNotifications implements OsNotifications {
  /** Pop-ups this page raised and that are still open, by notification id. */
  private readonly open = new Map<number, Notification>();
  /** Used when localStorage is unavailable (some private modes). */
  private readonly memory: { enabled: boolean; shown: Record<string, number> } = { enabled: false, shown: {} };

  /** This tab raises the pop-ups (the only one, when Web Locks exist). */
  private leader = false;

  constructor(private readonly deps: WebNotificationsDeps) {
    const locks = deps.locks();
    if (!locks) {
      this.leader = true;
      return;
    }
    locks
      .request(LEADER_LOCK, () => {
        this.leader = true;
        return new Promise<void>(() => undefined);
      })
      .catch(() => undefined);
  }

  permission(): OsPermission {
    const ctor = this.deps.ctor();
    if (!ctor) return this.deps.secure() ? 'unsupported' : 'insecure';
    const p = ctor.permission;
    return p === 'granted' || p === 'denied' ? p : 'default';
  }

  enabled(): boolean {
    const storage = this.deps.storage();
    if (!storage) return this.memory.enabled;
    try {
      return storage.getItem(ENABLED_KEY) === 'on';
    } catch {
      return this.memory.enabled;
    }
  }

  async enable(): Promise<OsPermission> {
    const current = this.permission();
    if (current === 'unsupported' || current === 'insecure' || current === 'denied') return current;
    let result: OsPermission = current;
    if (current === 'default') {
      const answer = await this.deps.ctor()?.requestPermission();
      result = answer === 'granted' || answer === 'denied' ? answer : 'default';
    }
    if (result === 'granted') this.setEnabled(true);
    return result;
  }

  disable(): void {
    this.setEnabled(false);
  }

  show(popup: Popup, options: OsPopupOptions = {}): void {
    if (!this.enabled() || this.permission() !== 'granted') return;
    if (!this.leader) return;
    const raise = () => this.raise(popup, options);
    const locks = this.deps.locks();
    if (!locks) {
      raise();
      return;
    }
    // The check-and-record of the shown tags must be atomic across tabs.
    locks.request(LOCK_NAME, raise).catch(() => undefined);
  }

  close(id: number): void {
    this.open.get(id)?.close();
    this.open.delete(id);
  }

  private raise(popup: Popup, options: OsPopupOptions): void {
    const ctor = this.deps.ctor();
    if (!ctor) return;
    const tag = popupTag(popup);
    if (!this.claim(tag, options.realert === true)) return;
    // `renotify` is in the spec but missing from TypeScript's DOM types.
    const init: NotificationOptions & { renotify?: boolean } = {
      body: popup.body ?? '',
      tag,
      requireInteraction: popup.persistent,
      // The OS sound follows the `sounds` preference too. The page's own chime
      // may ring as well, but it cannot be relied on: browsers block audio
      // until the page is interacted with, e.g. after a reload at night.
      silent: !popup.sound,
      data: { ids: popup.ids },
    };
    if (options.realert) init.renotify = true;
    let n: Notification;
    try {
      n = new ctor(popup.title, init);
    } catch {
      // Some platforms only allow notifications from a service worker.
      return;
    }
    const single = popup.ids.length === 1 ? popup.ids[0] : undefined;
    if (single !== undefined) this.open.set(single, n);
    n.onclick = () => {
      this.deps.focus();
      n.close();
      options.onClick?.();
    };
    n.onclose = () => {
      if (single !== undefined && this.open.get(single) === n) this.open.delete(single);
    };
  }

  /** Records `tag` as shown unless it already was (or, for a re-alert, just was). */
  private claim(tag: string, realert: boolean): boolean {
    const now = this.deps.now();
    const shown = this.readShown(now);
    const last = shown[tag];
    if (last !== undefined && (!realert || now - last < REALERT_DEDUPE_MS)) return false;
    shown[tag] = now;
    this.writeShown(shown);
    return true;
  }

  private readShown(now: number): Record<string, number> {
    let shown: Record<string, number> = this.memory.shown;
    const storage = this.deps.storage();
    if (storage) {
      try {
        const parsed: unknown = JSON.parse(storage.getItem(SHOWN_KEY) ?? '{}');
        if (parsed && typeof parsed === 'object') shown = parsed as Record<string, number>;
      } catch {
        shown = {};
      }
    }
    const fresh = Object.entries(shown)
      .filter(([, at]) => typeof at === 'number' && now - at < SHOWN_TTL_MS)
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_SHOWN - 1);
    return Object.fromEntries(fresh);
  }

  private writeShown(shown: Record<string, number>): void {
    this.memory.shown = shown;
    try {
      this.deps.storage()?.setItem(SHOWN_KEY, JSON.stringify(shown));
    } catch {
      // Storage full or blocked: the in-memory record still covers this tab.
    }
  }

  private setEnabled(on: boolean): void {
    this.memory.enabled = on;
    try {
      const storage = this.deps.storage();
      if (on) storage?.setItem(ENABLED_KEY, 'on');
      else storage?.removeItem(ENABLED_KEY);
    } catch {
      // Blocked storage: the choice lasts for this page only.
    }
  }
}

/** The real browser's dependencies. */
export function browserNotificationDeps(): WebNotificationsDeps {
  return {
    ctor: () => (typeof Notification === 'undefined' ? undefined : Notification),
    secure: () => typeof isSecureContext === 'undefined' || isSecureContext,
    storage: () => {
      try {
        return typeof localStorage === 'undefined' ? null : localStorage;
      } catch {
        return null;
      }
    },
    locks: () => (typeof navigator !== 'undefined' && navigator.locks ? navigator.locks : null),
    focus: () => window.focus(),
    now: Date.now,
  };
}
