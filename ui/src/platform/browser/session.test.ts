import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SessionTokens } from './session';

function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, v),
  };
}

const tokens = (n: number, ttl = 900) =>
  new Response(JSON.stringify({ access_token: `a${n}`, refresh_token: `r${n}`, expires_in: ttl, token_type: 'Bearer' }), {
    status: 200,
  });

describe('session tokens', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps tokens in memory and sessionStorage and refreshes a minute before expiry', async () => {
    let n = 0;
    const fetchFn = vi.fn(() => Promise.resolve(tokens(++n)));
    const storage = memoryStorage();
    const s = new SessionTokens('', storage, fetchFn as unknown as typeof fetch);
    await s.signIn('alice@shop.example', 'pw');
    expect(await s.accessToken()).toBe('a1');
    expect(storage.getItem('belfry.session')).toContain('"refresh_token":"r1"');
    // A reload picks the session up again.
    const reloaded = vi.fn(() => new Promise<Response>(() => undefined));
    expect(new SessionTokens('', storage, reloaded as unknown as typeof fetch).email).toBe('alice@shop.example');
    await vi.advanceTimersByTimeAsync(839_000);
    expect(fetchFn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fetchFn).toHaveBeenCalledTimes(2);
    expect(fetchFn.mock.calls[1]).toEqual(['/api/auth/refresh', expect.objectContaining({ body: '{"refresh_token":"r1"}' })]);
    expect(await s.accessToken()).toBe('a2');
  });

  it('refreshes once however many callers ask at the same time (refresh tokens rotate)', async () => {
    let n = 0;
    const fetchFn = vi.fn(() => Promise.resolve(tokens(++n)));
    const s = new SessionTokens('', memoryStorage(), fetchFn as unknown as typeof fetch);
    await s.signIn('alice@shop.example', 'pw');
    const outcomes = await Promise.all([s.refresh(), s.refresh(), s.refresh()]);
    expect(outcomes).toEqual(['ok', 'ok', 'ok']);
    expect(fetchFn).toHaveBeenCalledTimes(2);
  });

  it('signs out when the refresh is refused, and keeps the session when the server is unreachable', async () => {
    const fetchFn = vi.fn().mockResolvedValueOnce(tokens(1)).mockRejectedValueOnce(new TypeError('down')).mockResolvedValueOnce(new Response('{}', { status: 401 }));
    const storage = memoryStorage();
    const s = new SessionTokens('', storage, fetchFn as unknown as typeof fetch);
    const changes: (string | null)[] = [];
    s.onChange((e) => changes.push(e));
    await s.signIn('alice@shop.example', 'pw');
    expect(await s.refresh()).toBe('unreachable');
    expect(s.email).toBe('alice@shop.example');
    expect(await s.refresh()).toBe('signed-out');
    expect(s.email).toBeNull();
    expect(storage.getItem('belfry.session')).toBeNull();
    expect(changes).toEqual(['alice@shop.example', null]);
  });
});
