import { describe, expect, it } from 'vitest';
import type { Popup } from '../../lib/popup-rules';
import { ENABLED_KEY, popupTag, REALERT_DEDUPE_MS, SHOWN_TTL_MS, WebNotifications, type WebNotificationsDeps } from './os-notifications';

interface Raised {
  title: string;
  init: NotificationOptions & { renotify?: boolean };
  closed: boolean;
  onclick: (() => void) | null;
}

function fakeBrowser(permission: NotificationPermission = 'granted', answer: NotificationPermission = 'granted') {
  const raised: Raised[] = [];
  const asked: number[] = [];
  class FakeNotification {
    static permission: NotificationPermission = permission;
    static requestPermission(): Promise<NotificationPermission> {
      asked.push(1);
      FakeNotification.permission = answer;
      return Promise.resolve(answer);
    }
    onclick: (() => void) | null = null;
    onclose: (() => void) | null = null;
    private readonly record: Raised;
    constructor(title: string, init: NotificationOptions) {
      this.record = { title, init, closed: false, onclick: null };
      raised.push(this.record);
    }
    close() {
      this.record.closed = true;
    }
    click() {
      this.onclick?.();
    }
  }
  const store = new Map<string, string>();
  const storage = {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  } as Storage;
  let t = Date.parse('2026-11-29T12:00:00Z');
  const focused: number[] = [];
  const instances: FakeNotification[] = [];
  const Ctor = new Proxy(FakeNotification, {
    construct(target, args: [string, NotificationOptions]) {
      const n = new target(...args);
      instances.push(n);
      return n;
    },
  });
  const deps: WebNotificationsDeps = {
    ctor: () => Ctor as unknown as typeof Notification,
    secure: () => true,
    storage: () => storage,
    locks: () => null,
    focus: () => focused.push(1),
    now: () => t,
  };
  return { deps, raised, asked, focused, instances, storage, later: (ms: number) => (t += ms) };
}

const critical: Popup = { title: 'Possible fraud on #1043', body: 'Card issued abroad', severity: 'critical', sound: true, persistent: true, ids: [7] };
const warning: Popup = { title: 'Low stock', body: null, severity: 'warning', sound: true, persistent: false, ids: [8] };

describe('OS notifications in the browser', () => {
  it('stays silent until turned on in this browser', async () => {
    const b = fakeBrowser();
    const os = new WebNotifications(b.deps);
    os.show(critical);
    expect(b.raised).toEqual([]);
    expect(await os.enable()).toBe('granted');
    expect(b.storage.getItem(ENABLED_KEY)).toBe('on');
    os.show(critical);
    expect(b.raised.map((r) => [r.title, r.init.body, r.init.tag, r.init.requireInteraction, r.init.silent])).toEqual([
      ['Possible fraud on #1043', 'Card issued abroad', 'belfry-7', true, false],
    ]);
    os.show({ ...warning, sound: false });
    expect(b.raised[1]?.init.silent).toBe(true);
    os.disable();
    os.show({ ...warning, ids: [9] });
    expect(b.raised).toHaveLength(2);
  });

  it('asks for permission only when enabled, and stays off when the browser says no', async () => {
    const b = fakeBrowser('default', 'denied');
    const os = new WebNotifications(b.deps);
    expect(os.permission()).toBe('default');
    expect(b.asked).toEqual([]);
    expect(await os.enable()).toBe('denied');
    expect(b.asked).toHaveLength(1);
    expect(os.enabled()).toBe(false);
    // Once denied, the browser would not ask again: neither do we.
    expect(await os.enable()).toBe('denied');
    expect(b.asked).toHaveLength(1);
    os.show(critical);
    expect(b.raised).toEqual([]);
  });

  it('reports a dismissed prompt as still undecided', async () => {
    const b = fakeBrowser('default', 'default');
    const os = new WebNotifications(b.deps);
    expect(await os.enable()).toBe('default');
    expect(os.enabled()).toBe(false);
  });

  it('tells a missing API from an insecure origin', () => {
    const b = fakeBrowser();
    expect(new WebNotifications({ ...b.deps, ctor: () => undefined }).permission()).toBe('unsupported');
    expect(new WebNotifications({ ...b.deps, ctor: () => undefined, secure: () => false }).permission()).toBe('insecure');
  });

  it('raises a notification once across tabs sharing the browser storage, and again after a day', async () => {
    const b = fakeBrowser();
    const tab1 = new WebNotifications(b.deps);
    const tab2 = new WebNotifications(b.deps);
    await tab1.enable();
    tab1.show(critical);
    tab2.show(critical);
    tab1.show(critical);
    expect(b.raised).toHaveLength(1);
    b.later(SHOWN_TTL_MS);
    tab2.show(critical);
    expect(b.raised).toHaveLength(2);
  });

  it('lets a re-alert through once per interval, not once per tab', async () => {
    const b = fakeBrowser();
    const tab1 = new WebNotifications(b.deps);
    const tab2 = new WebNotifications(b.deps);
    await tab1.enable();
    tab1.show(critical);
    b.later(5 * 60_000);
    tab1.show(critical, { realert: true });
    b.later(REALERT_DEDUPE_MS - 1_000);
    tab2.show(critical, { realert: true });
    expect(b.raised.map((r) => r.init.renotify ?? false)).toEqual([false, true]);
  });

  it('focuses the page and opens the notification on click, and closes it when acknowledged', async () => {
    const b = fakeBrowser();
    const os = new WebNotifications(b.deps);
    await os.enable();
    const opened: number[] = [];
    os.show(critical, { onClick: () => opened.push(7) });
    os.show(warning);
    (b.instances[0] as unknown as { click(): void }).click();
    expect([b.focused.length, opened, b.raised[0]?.closed]).toEqual([1, [7], true]);
    os.close(8);
    expect(b.raised[1]?.closed).toBe(true);
  });

  it('tags a notification by id and a backlog summary by its newest id', () => {
    expect(popupTag({ ids: [42] })).toBe('belfry-42');
    expect(popupTag({ ids: [40, 41, 42, 43] })).toBe('belfry-backlog-43');
  });

  it('checks and records under the cross-tab lock when there is one', async () => {
    const b = fakeBrowser();
    const held: string[] = [];
    const locks = {
      request: (name: string, cb: () => void) => {
        held.push(name);
        cb();
        return Promise.resolve();
      },
    } as unknown as LockManager;
    const os = new WebNotifications({ ...b.deps, locks: () => locks });
    await os.enable();
    os.show(critical);
    expect([held, b.raised.length]).toEqual([['belfry.os-notifications.leader', 'belfry.os-notifications'], 1]);
  });
});
