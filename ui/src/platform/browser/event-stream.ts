//! The admin event stream over fetch: native EventSource cannot send an
//! Authorization header, so frames are parsed with eventsource-parser.
//!
//! Reconnect rules match the Rust client: full-jitter exponential backoff
//! (base from `retry:`, cap 30 s, reset after 30 s live), Last-Event-ID (the
//! last notification id, else `ready.last_id`), a watchdog at 2.5× the
//! keepalive interval, dedupe by id, and a token refresh on `expired`.

import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Backoff, HEALTHY_AFTER_MS } from '../../lib/backoff';
import type { AckEvent, Notification, Preferences, ReadEvent, ReadyEvent } from '../../lib/types';
import type { ConnectionStatus, StreamEvent } from '../platform';
import type { RefreshOutcome } from './session';

/** The server's default keepalive; the watchdog allows 2.5× this much silence. */
export const DEFAULT_KEEPALIVE_MS = 15_000;
/** Notification ids remembered for dedupe; more than one replay page. */
const SEEN_CAPACITY = 2_048;

export interface StreamDeps {
  url: string;
  fetch: typeof fetch;
  accessToken(): Promise<string | null>;
  refresh(): Promise<RefreshOutcome>;
  random?: () => number;
  now?: () => number;
  isOnline?: () => boolean;
  keepaliveMs?: number;
}

export class EventStream {
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private stopped = false;
  private abort: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private lastId: number | null = null;
  private readyLastId: number | null = null;
  private liveSince: number | null = null;
  private expired = false;
  private watchdogFired = false;
  /** The access token the current connection was opened with. */
  private tokenUsed: string | null = null;
  private seen = new Set<number>();

  constructor(
    private readonly deps: StreamDeps,
    private readonly onEvent: (e: StreamEvent) => void,
  ) {
    this.backoff = new Backoff(undefined, undefined, deps.random);
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.status({ state: 'connecting' });
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.clearWatchdog();
    this.abort?.abort();
  }

  /** Skips the remaining wait (the browser came back online, the user asked). */
  retryNow(): void {
    if (this.stopped || !this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
    void this.connect();
  }

  /**
   * The device lost its network: the open stream is dead even if no error has
   * surfaced yet, so drop it now and show Offline until `retryNow`.
   */
  dropForOffline(): void {
    if (this.stopped) return;
    this.abort?.abort();
  }

  /** The id a resume would send as Last-Event-ID. */
  get resumeFrom(): number | null {
    return this.lastId;
  }

  private status(status: ConnectionStatus): void {
    this.onEvent({ type: 'status', status });
  }

  private async connect(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    const token = await this.deps.accessToken();
    if (this.stopped) return;
    if (!token) {
      this.status({ state: 'signed-out', reason: 'Your sign-in ended. Sign in again.' });
      return;
    }
    this.tokenUsed = token;
    const abort = new AbortController();
    this.abort = abort;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${token}`,
      Accept: 'text/event-stream',
    };
    if (this.lastId !== null) headers['Last-Event-ID'] = String(this.lastId);
    let res: Response;
    try {
      res = await this.deps.fetch(this.deps.url, { headers, signal: abort.signal, cache: 'no-store' });
    } catch {
      if (!this.stopped) this.reconnect('The server could not be reached.');
      return;
    }
    if (this.stopped) return;
    if (res.status === 401) {
      const outcome = await this.deps.refresh();
      if (outcome === 'signed-out') {
        this.status({ state: 'signed-out', reason: 'The server refused the sign-in. Sign in again.' });
      } else {
        this.reconnect('The access token was refused; refreshed it.');
      }
      return;
    }
    if (res.status === 403) {
      // A valid token for an account that may not listen: retrying cannot help.
      const why = await errorMessage(res);
      this.status({ state: 'signed-out', reason: `The server refused this account${why}. Sign in as an admin.` });
      return;
    }
    if (!res.ok && res.status !== 408 && res.status !== 429 && res.status < 500) {
      // Any other refusal (400, 404, …) would be answered the same way again;
      // like the Rust client, stop, and say so.
      const why = await errorMessage(res);
      this.status({
        state: 'offline',
        reason: `The server refused the stream (${res.status}${why}); it is not retried. Reload to try again.`,
      });
      return;
    }
    if (!res.ok || !res.body) {
      const retryAfter = Number(res.headers.get('retry-after'));
      const min = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 0;
      this.reconnect(`The server answered ${res.status}.`, min);
      return;
    }
    await this.read(res.body, abort);
    if (this.stopped) return;
    if (this.expired) {
      // Not a failure: the token ended. Refresh (unless the scheduled refresh
      // already replaced it; refresh tokens rotate, so never twice) and resume at once.
      this.expired = false;
      const current = await this.deps.accessToken();
      const outcome = current !== null && current !== this.tokenUsed ? 'ok' : await this.deps.refresh();
      if (outcome === 'signed-out') {
        this.status({ state: 'signed-out', reason: 'Your sign-in expired. Sign in again.' });
        return;
      }
      if (outcome === 'ok') {
        this.liveSince = null;
        void this.connect();
        return;
      }
    }
    this.reconnect(this.watchdogFired ? 'The server went silent (no keepalive).' : 'The connection was closed.');
  }

  private async read(body: ReadableStream<Uint8Array>, abort: AbortController): Promise<void> {
    this.watchdogFired = false;
    const parser = createParser({
      onEvent: (m) => this.onFrame(m),
      onRetry: (ms) => this.backoff.setBase(ms),
    });
    const reader = body.getReader();
    const decoder = new TextDecoder();
    this.armWatchdog(abort);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.armWatchdog(abort);
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch {
      // Aborted by stop() or the watchdog, or the network dropped.
    } finally {
      this.clearWatchdog();
      reader.releaseLock?.();
    }
  }

  private reconnect(reason: string, minDelayMs = 0): void {
    if (this.stopped) return;
    if (this.liveSince !== null && this.now() - this.liveSince >= HEALTHY_AFTER_MS) this.backoff.reset();
    this.liveSince = null;
    const delay = Math.max(minDelayMs, this.backoff.next());
    const online = this.deps.isOnline?.() ?? true;
    if (!online) {
      this.status({ state: 'offline', reason: 'This device is offline.' });
    } else {
      this.status({ state: 'reconnecting', retryAt: this.now() + delay, attempt: this.backoff.attempts, reason });
    }
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  private armWatchdog(abort: AbortController): void {
    this.clearWatchdog();
    const limit = (this.deps.keepaliveMs ?? DEFAULT_KEEPALIVE_MS) * 2.5;
    this.watchdog = setTimeout(() => {
      this.watchdogFired = true;
      abort.abort();
    }, limit);
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  private onFrame(m: EventSourceMessage): void {
    let data: unknown;
    try {
      data = JSON.parse(m.data);
    } catch {
      return;
    }
    switch (m.event) {
      case 'ready': {
        const ready = data as ReadyEvent;
        this.readyLastId = ready.last_id;
        this.lastId ??= ready.last_id;
        this.liveSince = this.now();
        this.status({ state: 'live', since: this.liveSince });
        this.onEvent({ type: 'ready', ready });
        break;
      }
      case 'notification':
      case undefined: {
        const n = data as Notification;
        if (typeof n.id !== 'number' || this.seen.has(n.id)) return;
        this.remember(n.id);
        this.lastId = Math.max(this.lastId ?? 0, n.id);
        const replayed = this.readyLastId !== null && n.id <= this.readyLastId;
        this.onEvent({ type: 'notification', notification: n, replayed });
        break;
      }
      case 'read':
        this.onEvent({ type: 'read', read: data as ReadEvent });
        break;
      case 'ack':
        this.onEvent({ type: 'ack', ack: data as AckEvent });
        break;
      case 'preferences':
        this.onEvent({ type: 'preferences', preferences: data as Preferences });
        break;
      case 'reset':
        // The server jumped to its head: resume from there, and ids may repeat
        // if its store was replaced.
        this.lastId = this.readyLastId;
        this.seen.clear();
        this.onEvent({ type: 'reset', reason: (data as { reason?: string }).reason ?? '' });
        break;
      case 'expired':
        this.expired = true;
        break;
      default:
        break;
    }
  }

  private remember(id: number): void {
    this.seen.add(id);
    if (this.seen.size > SEEN_CAPACITY) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}

/** `: message` from a JSON error body (`{"error":{"message":…}}`), or empty. */
async function errorMessage(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: { message?: unknown } };
    const message = body.error?.message;
    return typeof message === 'string' && message ? `: ${message}` : '';
  } catch {
    return '';
  }
}
