//! Wires the platform to the stores: one stream per sign-in, every event
//! applied to the stores, history refetched on `ready` (to pick up read and
//! ack changes made while disconnected) and on `reset`; plus the actions the
//! screens call. Its shape, `AppModel`, is declared in `stores/app-context.ts`,
//! the one module through which features reach the app.

import type { Platform, Session } from '../platform';
import { createStore } from '../stores/create-store';
import { createInboxStore } from '../stores/inbox-store';
import { createNotificationStore } from '../stores/notification-store';
import { createToastStore } from '../stores/toast-store';
import type { Preferences } from '../lib/types';
import { navigate, type AppModel } from '../stores/app-context';

export const HISTORY_PAGE = 50;
/** How often unacknowledged critical notifications are checked for a re-alert. */
const REALERT_CHECK_MS = 30_000;

export function createAppModel(platform: Platform): AppModel {
  const toasts = createToastStore();
  // The desktop app raises native pop-ups from its Rust core; the page must
  // not raise a second one for the same notification.
  const os = platform.capabilities.desktop ? undefined : platform.osNotifications;
  const notifications = createNotificationStore({
    toasts,
    playSound: (s) => platform.playSound(s),
    osPopup: os
      ? (popup, realert) =>
          os.show(popup, {
            realert,
            // One notification opens its detail; a backlog summary the inbox.
            onClick: () => navigate(popup.ids.length === 1 ? `/inbox/${popup.ids[0]}` : '/inbox'),
          })
      : undefined,
    osClose: os ? (id) => os.close(id) : undefined,
  });
  const inbox = createInboxStore(platform);
  const session = createStore<Session | null>(platform.session());
  let closeStream: (() => void) | null = null;
  let signingOut = false;
  let realertTimer: ReturnType<typeof setInterval> | null = null;

  async function refreshHistory(replace: boolean) {
    try {
      const since = notifications.mark();
      const page = await platform.listNotifications({ limit: HISTORY_PAGE });
      if (replace) notifications.replaceHistory(page.items, page.unread);
      else notifications.mergeHistory(page.items, page.unread, since);
    } catch {
      // The stream keeps counts right; the list fills on the next ready.
    }
  }

  function loadPreferences() {
    platform
      .getPreferences()
      .then((p) => notifications.setPreferences(p))
      .catch(() => undefined);
  }

  function start() {
    closeStream?.();
    closeStream = platform.openStream((e) => {
      notifications.apply(e);
      inbox.apply(e);
      if (e.type === 'ready') {
        // Changes made while disconnected arrive with no event: refetch.
        void refreshHistory(false);
        loadPreferences();
      }
      if (e.type === 'reset') {
        void refreshHistory(true);
        inbox.reload();
      }
    });
    // In the desktop app the Rust core re-alerts (native pop-ups, on its own
    // schedule): one implementation per device, never two.
    if (!platform.capabilities.desktop) {
      realertTimer ??= setInterval(() => notifications.realert(), REALERT_CHECK_MS);
    }
  }

  function stop() {
    closeStream?.();
    closeStream = null;
    if (realertTimer) clearInterval(realertTimer);
    realertTimer = null;
    notifications.reset();
    inbox.clear();
    toasts.clear();
  }

  platform.onSessionChange((s) => {
    session.set(s);
    // A session that began without the sign-in screen (the desktop app's
    // own server signing in by itself) needs its stream.
    if (s && !closeStream) start();
    if (!s && !signingOut) {
      closeStream?.();
      closeStream = null;
      notifications.apply({ type: 'status', status: { state: 'signed-out', reason: 'Your sign-in ended. Sign in again.' } });
    }
  });

  return {
    platform,
    toasts,
    notifications,
    inbox,
    session,
    start,
    async signIn(email: string, password: string) {
      const s = await platform.signIn(email, password);
      // Nothing of a previous sign-in (perhaps another admin) may linger.
      stop();
      session.set(s);
      start();
    },
    async signOut() {
      signingOut = true;
      try {
        stop();
        await platform.signOut();
        session.set(null);
      } finally {
        signingOut = false;
      }
    },
    async markRead(id: number) {
      const item = notifications.find(id) ?? inbox.find(id);
      if (item?.read) return;
      notifications.markReadLocally([id]);
      inbox.patch(id, { read: true });
      notifications.setUnread(await platform.markRead({ ids: [id] }));
    },
    async markUnread(id: number) {
      notifications.markReadLocally([id], false);
      inbox.patch(id, { read: false });
      notifications.setUnread(await platform.markUnread([id]));
    },
    async markAllRead() {
      const top = Math.max(0, ...notifications.store.get().items.map((x) => x.id), ...inbox.store.get().items.map((x) => x.id));
      if (top === 0) return;
      notifications.markReadLocally('all');
      notifications.setUnread(await platform.markRead({ up_to: top }));
    },
    async ack(id: number, note?: string, force?: boolean) {
      const res = await platform.ack(id, note, force);
      notifications.setAck(id, res.ack);
      inbox.patch(id, { ack: res.ack });
      toasts.dismissNotification(id);
    },
    async release(id: number, force?: boolean) {
      await platform.release(id, force);
      notifications.setAck(id, null);
      inbox.patch(id, { ack: null });
    },
    async savePreferences(p: Preferences) {
      const saved = await platform.putPreferences(p);
      notifications.setPreferences(saved);
      return saved;
    },
  };
}
