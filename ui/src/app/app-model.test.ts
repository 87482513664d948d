// Re-alerts happen once per device: in the browser the page re-alerts an
// unacknowledged critical on its own schedule; in the desktop app the Rust
// core does (native pop-ups), so the page must not add a second schedule.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_PREFERENCES, NO_UNREAD, type Notification } from '../lib/types';
import type { OsPopupOptions, Platform, StreamEvent } from '../platform/platform';
import { createAppModel } from './app-model';

const critical: Notification = {
  id: 7,
  kind: 'payment.failed',
  severity: 'critical',
  title: 'Payment failed',
  body: null,
  link: null,
  data: null,
  created_at: new Date().toISOString(),
};

/** A platform with a live stream the test feeds; `popups` records OS pop-ups raised by the page. */
function fakePlatform(desktop: boolean) {
  let feed: (e: StreamEvent) => void = () => undefined;
  const popups: boolean[] = [];
  const platform = {
    capabilities: { desktop, testNotifications: desktop, bundledServer: desktop },
    serverLabel: 'test',
    session: () => ({ email: 'ann@shop.example' }),
    onSessionChange: () => () => undefined,
    openStream(onEvent: (e: StreamEvent) => void) {
      feed = onEvent;
      return () => undefined;
    },
    listNotifications: () => Promise.resolve({ items: [], next_before: null, unread: NO_UNREAD }),
    getPreferences: () => Promise.resolve(DEFAULT_PREFERENCES),
    playSound: () => undefined,
    osNotifications: desktop
      ? undefined
      : {
          permission: () => 'granted',
          enabled: () => true,
          enable: () => Promise.resolve('granted'),
          disable: () => undefined,
          show: (_popup: unknown, options?: OsPopupOptions) => popups.push(options?.realert === true),
          close: () => undefined,
        },
  } as unknown as Platform;
  return { platform, feed: (e: StreamEvent) => feed(e), popups };
}

describe('re-alerts of an unacknowledged critical', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  for (const desktop of [false, true]) {
    it(desktop ? 'are left to the desktop core in the app' : 'come from the page in a browser', async () => {
      const { platform, feed, popups } = fakePlatform(desktop);
      const model = createAppModel(platform);
      const toasts = vi.spyOn(model.toasts, 'notify');
      model.start();
      feed({ type: 'status', status: { state: 'live', since: Date.now() } });
      feed({ type: 'ready', ready: { last_id: 6, unread: NO_UNREAD } });
      feed({ type: 'notification', notification: critical, replayed: false });
      expect(toasts).toHaveBeenCalledTimes(1);

      // Well past the default re-alert interval.
      await vi.advanceTimersByTimeAsync((DEFAULT_PREFERENCES.realert_minutes + 1) * 60_000);
      if (desktop) {
        expect(toasts).toHaveBeenCalledTimes(1);
        expect(popups).toEqual([]);
      } else {
        expect(toasts.mock.calls.length).toBeGreaterThan(1);
        expect(popups[0]).toBe(false);
        expect(popups.slice(1)).toContain(true);
      }
    });
  }
});
