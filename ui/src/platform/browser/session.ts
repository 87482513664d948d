//! Tokens of the browser session: kept in memory and in sessionStorage (so a
//! reload keeps the sign-in but closing the tab ends it), never in a URL.
//! Refresh is single-flight because the server rotates refresh tokens and
//! treats reuse of an old one as theft.

import type { TokenResponse } from '../../lib/types';
import { ApiError, errorFromResponse } from '../errors';

const STORAGE_KEY = 'belfry.session';
/** Refresh this long before `exp`, so a stream never meets an expired token. */
export const REFRESH_AHEAD_MS = 60_000;

interface Stored {
  email: string;
  access_token: string;
  refresh_token: string;
  /** Epoch ms at which the access token expires. */
  expires_at: number;
}

export type RefreshOutcome = 'ok' | 'signed-out' | 'unreachable';

export class SessionTokens {
  private current: Stored | null;
  private inflight: Promise<RefreshOutcome> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<(email: string | null) => void>();

  constructor(
    private readonly base: string,
    private readonly storage: Storage | null = typeof sessionStorage === 'undefined' ? null : sessionStorage,
    private readonly fetchFn: typeof fetch = (...a) => fetch(...a),
  ) {
    this.current = this.load();
    if (this.current) this.schedule();
  }

  get email(): string | null {
    return this.current?.email ?? null;
  }

  onChange(listener: (email: string | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async signIn(email: string, password: string): Promise<void> {
    let res: Response;
    try {
      res = await this.fetchFn(`${this.base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
    } catch {
      throw new ApiError('unreachable', 'The server could not be reached.');
    }
    if (!res.ok) throw await errorFromResponse(res);
    this.store(email, (await res.json()) as TokenResponse);
  }

  async signOut(): Promise<void> {
    const refresh = this.current?.refresh_token;
    this.clear();
    if (refresh) {
      try {
        await this.fetchFn(`${this.base}/api/auth/logout`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: refresh }),
        });
      } catch {
        // Signed out locally either way.
      }
    }
  }

  /** A usable access token, refreshing first when it is about to expire. */
  async accessToken(): Promise<string | null> {
    if (!this.current) return null;
    if (Date.now() >= this.current.expires_at - 5_000) {
      const outcome = await this.refresh();
      if (outcome === 'signed-out') return null;
    }
    return this.current?.access_token ?? null;
  }

  refresh(): Promise<RefreshOutcome> {
    this.inflight ??= this.doRefresh().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async doRefresh(): Promise<RefreshOutcome> {
    const cur = this.current;
    if (!cur) return 'signed-out';
    let res: Response;
    try {
      res = await this.fetchFn(`${this.base}/api/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: cur.refresh_token }),
      });
    } catch {
      return 'unreachable';
    }
    if (res.status === 401 || res.status === 403) {
      this.clear();
      return 'signed-out';
    }
    if (!res.ok) return 'unreachable';
    this.store(cur.email, (await res.json()) as TokenResponse);
    return 'ok';
  }

  private store(email: string, t: TokenResponse): void {
    const wasSignedIn = this.current !== null;
    this.current = {
      email,
      access_token: t.access_token,
      refresh_token: t.refresh_token,
      expires_at: Date.now() + t.expires_in * 1000,
    };
    this.storage?.setItem(STORAGE_KEY, JSON.stringify(this.current));
    this.schedule();
    if (!wasSignedIn) this.emit();
  }

  private clear(): void {
    const was = this.current !== null;
    this.current = null;
    this.storage?.removeItem(STORAGE_KEY);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (was) this.emit();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    if (!this.current) return;
    const left = this.current.expires_at - Date.now();
    // Short-lived tokens refresh at 80% of their life instead.
    const wait = left > 2 * REFRESH_AHEAD_MS ? left - REFRESH_AHEAD_MS : left * 0.8;
    this.timer = setTimeout(() => {
      void this.refresh();
    }, Math.max(1_000, wait));
  }

  private emit(): void {
    for (const l of this.listeners) l(this.email);
  }

  private load(): Stored | null {
    try {
      const raw = this.storage?.getItem(STORAGE_KEY);
      if (!raw) return null;
      const v = JSON.parse(raw) as Partial<Stored>;
      if (typeof v.email === 'string' && typeof v.access_token === 'string' && typeof v.refresh_token === 'string' && typeof v.expires_at === 'number') {
        return v as Stored;
      }
    } catch {
      // corrupt: start signed out
    }
    return null;
  }
}
