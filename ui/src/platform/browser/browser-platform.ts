//! The browser implementation of `Platform`: REST and SSE against the
//! belfry-server that served this page (same origin, so the strict CSP's
//! `connect-src 'self'` holds).

import type {
  AckEvent,
  ChannelList,
  ChannelTest,
  ChannelTestResult,
  InboxPage,
  InboxQuery,
  Preferences,
  Severity,
  UnreadCounts,
} from '../../lib/types';
import { ApiError, errorFromResponse } from '../errors';
import type { MarkReadRequest, Platform, Session, StreamEvent } from '../platform';
import { EventStream } from './event-stream';
import { browserNotificationDeps, WebNotifications } from './os-notifications';
import { SessionTokens } from './session';
import { beep } from './sound';

export class BrowserPlatform implements Platform {
  readonly capabilities = { desktop: false, testNotifications: false, bundledServer: false };
  readonly serverLabel: string;
  readonly osNotifications = new WebNotifications(browserNotificationDeps());
  private readonly tokens: SessionTokens;

  constructor(private readonly base = '') {
    this.serverLabel = base || (typeof location === 'undefined' ? '' : location.origin);
    this.tokens = new SessionTokens(base);
  }

  session(): Session | null {
    const email = this.tokens.email;
    return email ? { email } : null;
  }

  async signIn(email: string, password: string): Promise<Session> {
    await this.tokens.signIn(email, password);
    return { email };
  }

  signOut(): Promise<void> {
    return this.tokens.signOut();
  }

  onSessionChange(listener: (session: Session | null) => void): () => void {
    return this.tokens.onChange((email) => listener(email ? { email } : null));
  }

  openStream(onEvent: (event: StreamEvent) => void): () => void {
    const stream = new EventStream(
      {
        url: `${this.base}/api/admin/events`,
        fetch: (...a) => fetch(...a),
        accessToken: () => this.tokens.accessToken(),
        refresh: () => this.tokens.refresh(),
        isOnline: () => navigator.onLine,
      },
      onEvent,
    );
    const online = () => stream.retryNow();
    const offline = () => stream.dropForOffline();
    window.addEventListener('online', online);
    window.addEventListener('offline', offline);
    stream.start();
    return () => {
      window.removeEventListener('online', online);
      window.removeEventListener('offline', offline);
      stream.stop();
    };
  }

  listNotifications(q: InboxQuery): Promise<InboxPage> {
    const params = new URLSearchParams();
    if (q.limit) params.set('limit', String(q.limit));
    if (q.before) params.set('before', String(q.before));
    if (q.min_severity) params.set('min_severity', q.min_severity);
    if (q.kind) params.set('kind', q.kind);
    if (q.unread) params.set('unread', 'true');
    return this.request<InboxPage>('GET', `/api/admin/notifications?${params.toString()}`);
  }

  async markRead(request: MarkReadRequest): Promise<UnreadCounts> {
    return (await this.request<{ unread: UnreadCounts }>('POST', '/api/admin/notifications/read', request)).unread;
  }

  async markUnread(ids: number[]): Promise<UnreadCounts> {
    return (await this.request<{ unread: UnreadCounts }>('POST', '/api/admin/notifications/unread', { ids })).unread;
  }

  ack(id: number, note?: string, force?: boolean): Promise<AckEvent> {
    const body: { note?: string; force?: boolean } = {};
    if (note) body.note = note;
    if (force) body.force = true;
    return this.request<AckEvent>('POST', `/api/admin/notifications/${id}/ack`, body);
  }

  async release(id: number, force?: boolean): Promise<void> {
    await this.request<null>('DELETE', `/api/admin/notifications/${id}/ack`, force ? { force: true } : undefined);
  }

  getPreferences(): Promise<Preferences> {
    return this.request<Preferences>('GET', '/api/admin/preferences');
  }

  putPreferences(p: Preferences): Promise<Preferences> {
    return this.request<Preferences>('PUT', '/api/admin/preferences', p);
  }

  listChannels(): Promise<ChannelList> {
    return this.request<ChannelList>('GET', '/api/admin/channels');
  }

  testChannel(name: string, severity?: Severity): Promise<ChannelTestResult> {
    const body: ChannelTest = severity ? { severity } : {};
    return this.request<ChannelTestResult>('POST', `/api/admin/channels/${encodeURIComponent(name)}/test`, body);
  }

  playSound(severity: Severity): void {
    beep(severity);
  }

  private async request<T>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
    const token = await this.tokens.accessToken();
    if (!token) throw new ApiError('unauthorized', 'Sign in again.');
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError('unreachable', 'The server could not be reached.');
    }
    if (res.status === 401 && !retried) {
      const outcome = await this.tokens.refresh();
      if (outcome === 'ok') return this.request<T>(method, path, body, true);
    }
    if (!res.ok) throw await errorFromResponse(res);
    if (res.status === 204) return null as T;
    return (await res.json()) as T;
  }
}
