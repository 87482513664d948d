//! The desktop implementation of `Platform`: the Rust core (belfry-client in
//! the Tauri app) holds the connection, the tokens (in the OS keyring) and
//! the pop-ups; this page only listens to its events and calls its commands.
//! Nothing here sees a token.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { AckEvent, InboxPage, InboxQuery, Preferences, UnreadCounts } from '../../lib/types';
import { ApiError, type ApiErrorKind } from '../errors';
import type { SessionInfo } from '../generated/desktop';
import type { DesktopControls, MarkReadRequest, Platform, Session, StreamEvent } from '../platform';

/** What the `session` command and `belfry://session` event carry (generated from Rust). */
export type DesktopSession = SessionInfo;

interface CommandError {
  kind: ApiErrorKind;
  message: string;
  status?: number;
  code?: string;
  retry_after?: number;
}

/** Maps a rejected command onto the `ApiError` the screens explain. */
export function toApiError(e: unknown): ApiError {
  if (e && typeof e === 'object' && 'kind' in e && 'message' in e) {
    const c = e as CommandError;
    const field = /^([a-z_]+): /.exec(c.message)?.[1];
    return new ApiError(c.kind, c.message, c.status ?? 0, c.code ?? '', field, c.retry_after);
  }
  return new ApiError('server', typeof e === 'string' ? e : 'the desktop app did not answer');
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
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
      useServer: async (url) => this.adopt(await call<DesktopSession>('use_server', { url })),
      useBundled: async (demo) => this.adopt(await call<DesktopSession>('use_bundled', { demo })),
      testNotification: (severity) => call<void>('test_notification', { severity }),
      autostart: (enabled) => call<boolean>('autostart', enabled === undefined ? {} : { enabled }),
      onOpenRequest: (listener) => subscribe<number>('belfry://open', listener),
    };
  }

  get serverLabel(): string {
    return this.current?.server ?? 'this computer';
  }

  /** Waits for the app's start-up (the bundled server signs in by itself). */
  async init(): Promise<void> {
    this.current = await call<DesktopSession>('session');
    await listen<DesktopSession>('belfry://session', (e) => this.adopt(e.payload));
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
      const s = await call<DesktopSession>('sign_in', { email, password });
      this.current = s;
      return { email: s.email ?? email };
    } finally {
      this.signingIn = false;
    }
  }

  async signOut(): Promise<void> {
    await call<void>('sign_out');
    if (this.current) this.current = { ...this.current, email: null };
  }

  onSessionChange(listener: (session: Session | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  openStream(onEvent: (event: StreamEvent) => void): () => void {
    // Once listening, the core repeats the status and `ready`.
    return subscribe<StreamEvent>('belfry://event', onEvent, () => void invoke('attach'));
  }

  listNotifications(query: InboxQuery): Promise<InboxPage> {
    return call<InboxPage>('history', { query });
  }

  markRead(request: MarkReadRequest): Promise<UnreadCounts> {
    return call<UnreadCounts>('mark_read', { request });
  }

  markUnread(ids: number[]): Promise<UnreadCounts> {
    return call<UnreadCounts>('mark_unread', { ids });
  }

  ack(id: number, note?: string, force?: boolean): Promise<AckEvent> {
    return call<AckEvent>('ack', { id, note: note ?? null, force: force ?? null });
  }

  release(id: number, force?: boolean): Promise<void> {
    return call<void>('release', { id, force: force ?? null });
  }

  getPreferences(): Promise<Preferences> {
    return call<Preferences>('get_preferences');
  }

  putPreferences(preferences: Preferences): Promise<Preferences> {
    return call<Preferences>('put_preferences', { preferences });
  }

  /** Native pop-ups carry their own sound (the OS plays it). */
  playSound(): void {
    // Nothing to do in the page.
  }
}

/** Listens to a core event until the returned function is called; `onListening` runs once events can arrive. */
function subscribe<T>(event: string, listener: (payload: T) => void, onListening?: () => void): () => void {
  let unlisten: UnlistenFn | null = null;
  let closed = false;
  void listen<T>(event, (e) => {
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
