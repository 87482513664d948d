//! The desktop implementation of `Platform`: the Rust core (belfry-client in
//! the Tauri app) holds the connection, the tokens (in the OS keyring) and
//! the pop-ups; this page only listens to its events and calls its commands.
//! Nothing here sees a token. Command and event names, their arguments and
//! payloads are the generated `Commands` and `Events` (from
//! crates/belfry-desktop-core's contract), so a change on either side that
//! the other does not follow fails the type check.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  AckEvent,
  ChannelList,
  ChannelTestResult,
  InboxPage,
  InboxQuery,
  Preferences,
  Severity,
  UnreadCounts,
} from '../../lib/types';
import { ApiError } from '../errors';
import type { CommandError, Commands, Events, SessionInfo } from '../generated/desktop';
import type { DesktopControls, MarkReadRequest, Platform, Session, StreamEvent } from '../platform';

/** What the `session` command and `belfry://session` event carry (generated from Rust). */
export type DesktopSession = SessionInfo;

/** Maps a rejected command onto the `ApiError` the screens explain. */
export function toApiError(e: unknown): ApiError {
  if (e && typeof e === 'object' && 'kind' in e && 'message' in e) {
    const c = e as CommandError;
    // A bad argument's message starts with its path (`query.limit: …`).
    const field = /^([a-z_][\w.[\]]*): /.exec(c.message)?.[1];
    return new ApiError(c.kind, c.message, c.status ?? 0, c.code ?? '', field, c.retry_after);
  }
  return new ApiError('server', typeof e === 'string' ? e : 'the desktop app did not answer');
}

/** Calls a command of the desktop core with its arguments; a refusal becomes an `ApiError`. */
async function call<K extends keyof Commands>(command: K, args: Commands[K]['args']): Promise<Commands[K]['result']> {
  try {
    return await invoke<Commands[K]['result']>(command, args);
  } catch (e) {
    throw toApiError(e);
  }
}

export class TauriPlatform implements Platform {
  readonly capabilities = { desktop: true, testNotifications: true, bundledServer: true };
  private current: DesktopSession | null = null;
  /** While `signIn` runs, its own answer reports the session, not the event. */
  private signingIn = false;
  private readonly listeners = new Set<(s: Session | null) => void>();
  readonly desktop: DesktopControls;

  constructor() {
    const now = () => this.current;
    this.desktop = {
      get mode() {
        return now()?.mode ?? 'bundled';
      },
      get demo() {
        return now()?.demo ?? false;
      },
      get credentials() {
        return now()?.credentials ?? 'keyring';
      },
      useServer: async (url) => this.adopt(await call('use_server', { url })),
      useBundled: async (demo) => this.adopt(await call('use_bundled', { demo })),
      testNotification: async (severity) => {
        await call('test_notification', { severity });
      },
      autostart: (enabled) => call('autostart', enabled === undefined ? {} : { enabled }),
      onOpenRequest: (listener) => subscribe('belfry://open', listener),
    };
  }

  get serverLabel(): string {
    return this.current?.server ?? 'this computer';
  }

  /** Waits for the app's start-up (the bundled server signs in by itself). */
  async init(): Promise<void> {
    this.current = await call('session', {});
    await listen<Events['belfry://session']>('belfry://session', (e) => this.adopt(e.payload));
  }

  private adopt(s: DesktopSession) {
    const before = this.current?.email ?? null;
    this.current = s;
    if (!this.signingIn && (s.email ?? null) !== before) {
      const session = this.session();
      for (const l of this.listeners) l(session);
    }
  }

  session(): Session | null {
    return this.current?.email ? { email: this.current.email } : null;
  }

  async signIn(email: string, password: string): Promise<Session> {
    this.signingIn = true;
    try {
      const s = await call('sign_in', { email, password });
      this.current = s;
      return { email: s.email ?? email };
    } finally {
      this.signingIn = false;
    }
  }

  async signOut(): Promise<void> {
    await call('sign_out', {});
    if (this.current) this.current = { ...this.current, email: null };
  }

  onSessionChange(listener: (session: Session | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  openStream(onEvent: (event: StreamEvent) => void): () => void {
    // Once listening, the core repeats the status and `ready`.
    return subscribe('belfry://event', onEvent, () => void call('attach', {}));
  }

  listNotifications(query: InboxQuery): Promise<InboxPage> {
    return call('history', { query });
  }

  markRead(request: MarkReadRequest): Promise<UnreadCounts> {
    return call('mark_read', { request });
  }

  markUnread(ids: number[]): Promise<UnreadCounts> {
    return call('mark_unread', { ids });
  }

  ack(id: number, note?: string, force?: boolean): Promise<AckEvent> {
    return call('ack', { id, note: note ?? null, force: force ?? null });
  }

  async release(id: number, force?: boolean): Promise<void> {
    await call('release', { id, force: force ?? null });
  }

  getPreferences(): Promise<Preferences> {
    return call('get_preferences', {});
  }

  putPreferences(preferences: Preferences): Promise<Preferences> {
    return call('put_preferences', { preferences });
  }

  listChannels(): Promise<ChannelList> {
    return call('channels', {});
  }

  testChannel(name: string, severity?: Severity): Promise<ChannelTestResult> {
    return call('test_channel', { name, severity: severity ?? null });
  }

  /** Native pop-ups carry their own sound (the OS plays it). */
  playSound(): void {
    // Nothing to do in the page.
  }
}

/** Listens to a core event until the returned function is called; `onListening` runs once events can arrive. */
function subscribe<K extends keyof Events>(
  event: K,
  listener: (payload: Events[K]) => void,
  onListening?: () => void,
): () => void {
  let unlisten: UnlistenFn | null = null;
  let closed = false;
  void listen<Events[K]>(event, (e) => {
    if (!closed) listener(e.payload);
  }).then((u) => {
    if (closed) {
      u();
      return;
    }
    unlisten = u;
    onListening?.();
  });
  return () => {
    closed = true;
    unlisten?.();
  };
}
