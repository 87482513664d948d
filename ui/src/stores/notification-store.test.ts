import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Popup } from '../lib/popup-rules';
import { DEFAULT_PREFERENCES, type InboxItem, type Notification, type Severity } from '../lib/types';
import { createInboxStore } from './inbox-store';
import { createNotificationStore, MAX_RECENT } from './notification-store';
import { BACKLOG_KEY, createToastStore } from './toast-store';

function n(id: number, severity: Severity = 'warning', kind = 'stock.low'): Notification {
  return { id, kind, severity, title: `N${id}`, body: null, link: null, data: null, created_at: '2026-11-29T12:00:00Z' };
}
const counts = (total: number, info: number, warning: number, critical: number) => ({ total, info, warning, critical });

describe('notification store', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup() {
    const toasts = createToastStore();
    const sounds: Severity[] = [];
    const s = createNotificationStore({ toasts, playSound: (x) => sounds.push(x), now: () => new Date('2026-11-29T12:00:00Z') });
    return { s, toasts, sounds };
  }

  it('takes unread counts from ready and bumps them per severity for live arrivals', () => {
    const { s } = setup();
    s.apply({ type: 'ready', ready: { last_id: 10, unread: counts(3, 1, 1, 1) } });
    s.apply({ type: 'notification', notification: n(11, 'critical', 'fraud.detected'), replayed: false });
    s.apply({ type: 'notification', notification: n(12, 'info', 'order.created'), replayed: false });
    expect(s.store.get().unread).toEqual(counts(5, 2, 1, 2));
    expect(s.store.get().items.map((x) => x.id)).toEqual([12, 11]);
  });

  it('counts a notification once however often it arrives', () => {
    const { s, toasts } = setup();
    s.apply({ type: 'notification', notification: n(1), replayed: false });
    s.apply({ type: 'notification', notification: n(1), replayed: false });
    s.mergeHistory([{ ...n(1), read: false, ack: null }], counts(1, 0, 1, 0));
    s.apply({ type: 'notification', notification: n(1), replayed: false });
    expect(s.store.get().unread.total).toBe(1);
    expect(s.store.get().items).toHaveLength(1);
    expect(toasts.store.get().toasts).toHaveLength(1);
  });

  it('still pops up a notification the history fetch brought before its stream frame', () => {
    const { s, toasts } = setup();
    s.apply({ type: 'ready', ready: { last_id: 4, unread: counts(0, 0, 0, 0) } });
    // History (fetched on ready) wins the race against the frames.
    s.mergeHistory(
      [
        { ...n(6), read: false, ack: null },
        { ...n(5), read: false, ack: null },
      ],
      counts(2, 0, 2, 0),
    );
    s.apply({ type: 'notification', notification: n(5), replayed: true });
    s.apply({ type: 'notification', notification: n(6), replayed: false });
    s.apply({ type: 'notification', notification: n(6), replayed: false });
    expect(toasts.store.get().toasts.map((t) => [t.key, t.count])).toEqual([
      ['n-6', 1],
      [BACKLOG_KEY, 1],
    ]);
    expect(s.store.get().unread.total).toBe(2);
    expect(s.store.get().items).toHaveLength(2);
  });

  it('does not let a history page older than a read event undo it', () => {
    const { s } = setup();
    s.apply({ type: 'notification', notification: n(1), replayed: false });
    const since = s.mark();
    // A read event arrives while the page is in flight; the page predates it.
    s.apply({ type: 'read', read: { ids: [1], unread: counts(0, 0, 0, 0) } });
    s.mergeHistory(
      [
        { ...n(1), read: false, ack: null },
        { ...n(0), read: true, ack: null },
      ],
      counts(1, 0, 1, 0),
      since,
    );
    expect(s.store.get().items.map((x) => [x.id, x.read])).toEqual([
      [1, true],
      [0, true],
    ]);
    expect(s.store.get().unread.total).toBe(0);
  });

  it('applies read events by ids, by up_to and as unread again, with the server counts', () => {
    const { s } = setup();
    for (const id of [1, 2, 3]) s.apply({ type: 'notification', notification: n(id), replayed: false });
    s.apply({ type: 'read', read: { ids: [2], unread: counts(2, 0, 2, 0) } });
    expect(s.store.get().items.map((x) => x.read)).toEqual([false, true, false]);
    expect(s.store.get().unread.total).toBe(2);
    s.apply({ type: 'read', read: { up_to: 3, unread: counts(0, 0, 0, 0) } });
    expect(s.store.get().items.every((x) => x.read)).toBe(true);
    s.apply({ type: 'read', read: { ids: [1], unread_again: true, unread: counts(1, 0, 1, 0) } });
    expect(s.store.get().items.find((x) => x.id === 1)?.read).toBe(false);
    expect(s.store.get().unread).toEqual(counts(1, 0, 1, 0));
  });

  it('records acks and release, and an ack ends the sticky critical toast', () => {
    const { s, toasts } = setup();
    s.apply({ type: 'notification', notification: n(7, 'critical', 'fraud.detected'), replayed: false });
    expect(toasts.store.get().toasts[0]?.sticky).toBe(true);
    const ack = { by: { sub: 'bob', email: 'bob@shop.example' }, at: '2026-11-29T12:01:00Z', note: null };
    s.apply({ type: 'ack', ack: { id: 7, ack } });
    expect(s.find(7)?.ack?.by.email).toBe('bob@shop.example');
    expect(toasts.store.get().toasts).toHaveLength(0);
    s.apply({ type: 'ack', ack: { id: 7, ack: null } });
    expect(s.find(7)?.ack).toBeNull();
  });

  it('folds replayed backlog into one summary toast without recounting it', () => {
    const { s, toasts } = setup();
    s.apply({ type: 'ready', ready: { last_id: 5, unread: counts(3, 0, 2, 1) } });
    s.apply({ type: 'notification', notification: n(3), replayed: true });
    s.apply({ type: 'notification', notification: n(4), replayed: true });
    s.apply({ type: 'notification', notification: n(5, 'critical', 'fraud.detected'), replayed: true });
    const all = toasts.store.get().toasts;
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ key: BACKLOG_KEY, count: 3, criticalCount: 1, sticky: true });
    expect(s.store.get().unread.total).toBe(3);
    expect(s.store.get().items).toHaveLength(3);
  });

  it('pops up and sounds only what the preferences allow', () => {
    const { s, toasts, sounds } = setup();
    s.apply({ type: 'notification', notification: n(1, 'info', 'order.created'), replayed: false });
    expect(toasts.store.get().toasts).toHaveLength(0);
    s.apply({
      type: 'preferences',
      preferences: { ...s.store.get().preferences, popup_min_severity: 'info', sounds: { info: false, warning: true, critical: true } },
    });
    s.apply({ type: 'notification', notification: n(2, 'info', 'order.created'), replayed: false });
    s.apply({ type: 'notification', notification: n(3, 'warning'), replayed: false });
    expect(toasts.store.get().toasts).toHaveLength(2);
    expect(sounds).toEqual(['warning']);
  });

  it('alerts again about unacknowledged critical notifications after realert_minutes', () => {
    const toasts = createToastStore();
    let t = Date.parse('2026-11-29T12:00:00Z');
    const sounds: Severity[] = [];
    const s = createNotificationStore({ toasts, playSound: (x) => sounds.push(x), now: () => new Date(t) });
    s.apply({ type: 'notification', notification: n(1, 'critical', 'fraud.detected'), replayed: false });
    s.apply({ type: 'notification', notification: n(2, 'critical', 'system.error'), replayed: false });
    toasts.clear();
    t += 4 * 60_000;
    s.realert();
    expect(toasts.store.get().toasts).toHaveLength(0);
    s.apply({ type: 'ack', ack: { id: 2, ack: { by: { sub: 'bob', email: null }, at: '2026-11-29T12:03:00Z', note: null } } });
    t += 60_000;
    s.realert();
    expect(toasts.store.get().toasts.map((x) => x.key)).toEqual(['n-1']);
    expect(sounds).toEqual(['critical', 'critical', 'critical']);
    // The next re-alert waits another full interval.
    toasts.clear();
    t += 60_000;
    s.realert();
    expect(toasts.store.get().toasts).toHaveLength(0);
  });

  describe('OS pop-ups', () => {
    function withOs() {
      const popups: [Popup, boolean][] = [];
      const closed: number[] = [];
      let t = Date.parse('2026-11-29T12:00:00Z');
      const s = createNotificationStore({
        toasts: createToastStore(),
        now: () => new Date(t),
        osPopup: (p, realert) => popups.push([p, realert]),
        osClose: (id) => closed.push(id),
      });
      return { s, popups, closed, later: (ms: number) => (t += ms) };
    }
    const live = (x: Notification) => ({ type: 'notification' as const, notification: x, replayed: false });
    const replay = (x: Notification) => ({ type: 'notification' as const, notification: x, replayed: true });

    it('raises one for a live critical, none for a live info, and never twice for the same id', () => {
      const { s, popups } = withOs();
      s.apply({ type: 'ready', ready: { last_id: 0, unread: counts(0, 0, 0, 0) } });
      s.apply(live({ ...n(1, 'critical', 'fraud.detected'), body: 'Card issued abroad' }));
      s.apply(live(n(2, 'info', 'order.created')));
      s.apply(live(n(1, 'critical', 'fraud.detected')));
      expect(popups).toEqual([
        [{ title: 'N1', body: 'Card issued abroad', severity: 'critical', sound: true, persistent: true, ids: [1] }, false],
      ]);
    });

    it('holds a replayed backlog until its last id and then raises one summary', () => {
      const { s, popups } = withOs();
      s.apply({ type: 'ready', ready: { last_id: 15, unread: counts(5, 0, 4, 1) } });
      for (const id of [11, 12, 13, 14]) s.apply(replay(n(id)));
      expect(popups).toEqual([]);
      s.apply(replay(n(15, 'critical', 'system.error')));
      expect(popups.map(([p]) => [p.title, p.severity, p.persistent, p.ids])).toEqual([
        ['5 new notifications, 1 critical', 'critical', true, [11, 12, 13, 14, 15]],
      ]);
      s.apply(live(n(16)));
      expect(popups.map(([p]) => p.ids)).toEqual([[11, 12, 13, 14, 15], [16]]);
    });

    it('raises a short backlog one by one, and what it has when the connection drops mid-replay', () => {
      const { s, popups } = withOs();
      s.apply({ type: 'ready', ready: { last_id: 12, unread: counts(2, 0, 2, 0) } });
      s.apply(replay(n(11)));
      s.apply(replay(n(12)));
      expect(popups.map(([p]) => p.title)).toEqual(['N11', 'N12']);
      s.apply({ type: 'ready', ready: { last_id: 30, unread: counts(2, 0, 2, 0) } });
      s.apply(replay(n(21)));
      s.apply({ type: 'status', status: { state: 'reconnecting', retryAt: 0, attempt: 1, reason: 'closed' } });
      expect(popups.map(([p]) => p.title)).toEqual(['N11', 'N12', 'N21']);
    });

    it('follows the preferences for the backlog too', () => {
      const { s, popups } = withOs();
      s.setPreferences({ ...DEFAULT_PREFERENCES, muted_kinds: [{ kind: 'stock.low', until: null }] });
      s.apply({ type: 'ready', ready: { last_id: 3, unread: counts(3, 0, 3, 0) } });
      for (const id of [1, 2, 3]) s.apply(replay(n(id)));
      s.apply(live(n(4, 'critical', 'fraud.detected')));
      expect(popups.map(([p]) => p.ids)).toEqual([[4]]);
    });

    it('marks re-alerts and closes the pop-up of an acknowledged notification', () => {
      const { s, popups, closed, later } = withOs();
      s.apply(live(n(1, 'critical', 'fraud.detected')));
      later(5 * 60_000);
      s.realert();
      expect(popups.map(([p, again]) => [p.ids, again])).toEqual([
        [[1], false],
        [[1], true],
      ]);
      s.apply({ type: 'ack', ack: { id: 1, ack: { by: { sub: 'bob', email: null }, at: '2026-11-29T12:05:00Z', note: null } } });
      expect(closed).toEqual([1]);
    });
  });

  it('keeps memory bounded to the newest notifications', () => {
    const { s } = setup();
    for (let id = 1; id <= MAX_RECENT + 50; id += 1) s.apply({ type: 'notification', notification: n(id, 'info'), replayed: false });
    const items = s.store.get().items;
    expect(items).toHaveLength(MAX_RECENT);
    expect(items[0]?.id).toBe(MAX_RECENT + 50);
    expect(items[items.length - 1]?.id).toBe(51);
    expect(s.store.get().unread.total).toBe(MAX_RECENT + 50);
  });

  it('lets a fresh history page set read and ack state', () => {
    const { s } = setup();
    s.apply({ type: 'notification', notification: n(1), replayed: false });
    const fromServer: InboxItem = { ...n(1), read: true, ack: null };
    s.mergeHistory([fromServer, { ...n(0), read: false, ack: null }], counts(1, 0, 1, 0));
    expect(s.store.get().items.map((x) => [x.id, x.read])).toEqual([
      [1, true],
      [0, false],
    ]);
    expect(s.store.get().unread.total).toBe(1);
  });
});

describe('inbox store', () => {
  it('pages with the filters, prepends matching live notifications and follows read events', async () => {
    const calls: unknown[] = [];
    const inbox = createInboxStore({
      listNotifications: (q) => {
        calls.push(q);
        return Promise.resolve({
          items: [{ ...n(q.before ? 1 : 2, 'critical', 'fraud.detected'), read: false, ack: null }],
          next_before: q.before ? null : 2,
          unread: counts(0, 0, 0, 0),
        });
      },
    });
    inbox.setFilters({ minSeverity: 'critical', kind: null, unreadOnly: true });
    await vi.waitFor(() => expect(inbox.store.get().loaded).toBe(true));
    await inbox.loadMore();
    expect(calls).toEqual([
      { limit: 50, before: null, min_severity: 'critical', kind: null, unread: true },
      { limit: 50, before: 2, min_severity: 'critical', kind: null, unread: true },
    ]);
    expect(inbox.store.get().done).toBe(true);
    inbox.apply({ type: 'notification', notification: n(9, 'warning'), replayed: false });
    inbox.apply({ type: 'notification', notification: n(10, 'critical', 'system.error'), replayed: false });
    expect(inbox.store.get().items.map((x) => x.id)).toEqual([10, 2, 1]);
    inbox.apply({ type: 'read', read: { up_to: 2, unread: counts(1, 0, 0, 1) } });
    expect(inbox.store.get().items.map((x) => x.read)).toEqual([false, true, true]);
  });
});
