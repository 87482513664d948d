import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StreamEvent } from '../platform';
import { EventStream, type StreamDeps } from './event-stream';
import type { RefreshOutcome } from './session';

interface Conn {
  headers: Record<string, string>;
  push(text: string): void;
  close(): void;
}

/** A fake server: each fetch is answered by the next scripted reply. */
function fakeServer() {
  const conns: Conn[] = [];
  const replies: ('stream' | 'refused' | number)[] = [];
  const fetchFn = vi.fn((_url: string | URL | Request, init?: RequestInit) => {
    const reply = replies.shift() ?? 'stream';
    if (reply === 'refused') return Promise.reject(new TypeError('fetch failed'));
    if (typeof reply === 'number') {
      const headers = reply === 429 ? { 'retry-after': '5' } : undefined;
      const body = JSON.stringify({ error: { code: 'refused', message: `refused with ${reply}` } });
      return Promise.resolve(new Response(body, { status: reply, headers }));
    }
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        ctrl = c;
      },
    });
    const enc = new TextEncoder();
    init?.signal?.addEventListener('abort', () => ctrl.error(new DOMException('aborted', 'AbortError')));
    conns.push({
      headers: init?.headers as Record<string, string>,
      push: (t) => ctrl.enqueue(enc.encode(t)),
      close: () => ctrl.close(),
    });
    return Promise.resolve(new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }));
  });
  return { conns, replies, fetchFn };
}

const ready = (lastId: number) => `retry: 1000\nevent: ready\ndata: {"last_id":${lastId},"unread":{"total":0,"info":0,"warning":0,"critical":0}}\n\n`;
const note = (id: number) =>
  `id: ${id}\nevent: notification\ndata: {"id":${id},"kind":"stock.low","severity":"warning","title":"N${id}","created_at":"2026-11-29T12:00:00Z"}\n\n`;

describe('event stream', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(over: Partial<StreamDeps> = {}) {
    const server = fakeServer();
    const events: StreamEvent[] = [];
    const refresh = vi.fn((): Promise<RefreshOutcome> => Promise.resolve('ok'));
    const stream = new EventStream(
      {
        url: '/api/admin/events',
        fetch: server.fetchFn as unknown as typeof fetch,
        accessToken: () => Promise.resolve('tok'),
        refresh,
        random: () => 0.999,
        keepaliveMs: 1_000,
        ...over,
      },
      (e) => events.push(e),
    );
    const statuses = () => events.filter((e) => e.type === 'status').map((e) => (e.type === 'status' ? e.status : null));
    const notes = () => events.flatMap((e) => (e.type === 'notification' ? [[e.notification.id, e.replayed] as const] : []));
    return { ...server, events, stream, refresh, statuses, notes };
  }

  const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

  it('goes live on ready and resumes from the last notification id after a drop, honouring retry:', async () => {
    const t = setup();
    t.stream.start();
    await tick();
    expect(t.conns[0]?.headers.Authorization).toBe('Bearer tok');
    expect(t.conns[0]?.headers['Last-Event-ID']).toBeUndefined();
    t.conns[0]?.push(ready(10) + note(11) + note(12));
    await tick();
    expect(t.statuses().at(-1)?.state).toBe('live');
    t.conns[0]?.close();
    await tick();
    const s = t.statuses().at(-1);
    expect(s).toMatchObject({ state: 'reconnecting', attempt: 1 });
    // retry: 1000 is the base, full jitter draws 0.999 of it.
    await tick(990);
    expect(t.fetchFn).toHaveBeenCalledTimes(1);
    await tick(10);
    expect(t.fetchFn).toHaveBeenCalledTimes(2);
    expect(t.conns[1]?.headers['Last-Event-ID']).toBe('12');
    t.stream.stop();
  });

  it('falls back to ready.last_id for Last-Event-ID', async () => {
    const t = setup();
    t.stream.start();
    await tick();
    t.conns[0]?.push(ready(42));
    await tick();
    t.conns[0]?.close();
    await tick(1_000);
    expect(t.conns[1]?.headers['Last-Event-ID']).toBe('42');
    t.stream.stop();
  });

  it('backs off exponentially while the server is down, and starts over after 30 s live', async () => {
    const t = setup();
    t.replies.push('refused', 'refused', 'refused');
    t.stream.start();
    await tick();
    await tick(500);
    await tick(1_000);
    const waits = t.statuses().flatMap((s) => (s?.state === 'reconnecting' ? [s.attempt] : []));
    expect(waits).toEqual([1, 2, 3]);
    await tick(2_000);
    expect(t.fetchFn).toHaveBeenCalledTimes(4);
    t.conns[0]?.push(ready(1));
    await tick();
    // Keep the stream alive (keepalives) for 31 s, then drop it.
    for (let i = 0; i < 31; i += 1) {
      t.conns[0]?.push(': keepalive\n\n');
      await tick(1_000);
    }
    t.conns[0]?.close();
    await tick();
    expect(t.statuses().at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1 });
    t.stream.stop();
  });

  it('drops duplicate ids and marks backlog up to ready.last_id as replayed', async () => {
    const t = setup();
    t.stream.start();
    await tick();
    t.conns[0]?.push(ready(5));
    await tick();
    t.conns[0]?.close();
    await tick(1_000);
    t.conns[1]?.push(ready(8) + note(6) + note(7) + note(7) + note(8) + note(9) + note(9));
    await tick();
    expect(t.conns[1]?.headers['Last-Event-ID']).toBe('5');
    expect(t.notes()).toEqual([
      [6, true],
      [7, true],
      [8, true],
      [9, false],
    ]);
    t.stream.stop();
  });

  it('reconnects when the server goes silent past 2.5× the keepalive', async () => {
    const t = setup();
    t.stream.start();
    await tick();
    t.conns[0]?.push(ready(1));
    await tick(2_400);
    expect(t.statuses().at(-1)?.state).toBe('live');
    await tick(200);
    const s = t.statuses().at(-1);
    expect(s?.state).toBe('reconnecting');
    expect(s?.state === 'reconnecting' && s.reason).toMatch(/silent/);
    t.stream.stop();
  });

  it('refreshes the token on expired and resumes at once', async () => {
    const t = setup();
    t.stream.start();
    await tick();
    t.conns[0]?.push(ready(3) + 'event: expired\ndata: {"message":"the access token expired"}\n\n');
    t.conns[0]?.close();
    await tick();
    expect(t.refresh).toHaveBeenCalledTimes(1);
    expect(t.fetchFn).toHaveBeenCalledTimes(2);
    expect(t.conns[1]?.headers['Last-Event-ID']).toBe('3');
    expect(t.statuses().some((s) => s?.state === 'reconnecting')).toBe(false);
    t.stream.stop();
  });

  it('does not rotate the refresh token twice when the scheduled refresh already ran', async () => {
    let token = 'old';
    const t = setup({ accessToken: () => Promise.resolve(token) });
    t.stream.start();
    await tick();
    token = 'new';
    t.conns[0]?.push(ready(3) + 'event: expired\ndata: {"message":"the access token expired"}\n\n');
    t.conns[0]?.close();
    await tick();
    expect(t.refresh).not.toHaveBeenCalled();
    expect(t.conns[1]?.headers.Authorization).toBe('Bearer new');
    t.stream.stop();
  });

  it('asks for a new sign-in when the refresh is refused', async () => {
    const t = setup();
    t.refresh.mockResolvedValue('signed-out');
    t.replies.push(401);
    t.stream.start();
    await tick(60_000);
    expect(t.statuses().at(-1)?.state).toBe('signed-out');
    expect(t.fetchFn).toHaveBeenCalledTimes(1);
  });

  it('says offline when the device has no network, and resumes when it is back', async () => {
    let online = true;
    const t = setup({ isOnline: () => online });
    t.stream.start();
    await tick();
    t.conns[0]?.push(ready(4));
    await tick();
    online = false;
    t.stream.dropForOffline();
    await tick();
    expect(t.statuses().at(-1)?.state).toBe('offline');
    online = true;
    t.stream.retryNow();
    await tick();
    expect(t.fetchFn).toHaveBeenCalledTimes(2);
    expect(t.conns[1]?.headers['Last-Event-ID']).toBe('4');
    t.stream.stop();
  });

  it('waits at least Retry-After when the server is busy', async () => {
    const t = setup();
    t.replies.push(429);
    t.stream.start();
    await tick();
    const s = t.statuses().at(-1);
    expect(s).toMatchObject({ state: 'reconnecting', attempt: 1 });
    expect(s?.state === 'reconnecting' && s.retryAt - Date.now()).toBe(5_000);
    await tick(4_999);
    expect(t.fetchFn).toHaveBeenCalledTimes(1);
    await tick(1);
    expect(t.fetchFn).toHaveBeenCalledTimes(2);
    t.stream.stop();
  });

  it('stops and asks for an admin sign-in on 403, without retrying', async () => {
    const t = setup();
    t.replies.push(403);
    t.stream.start();
    await tick(120_000);
    const s = t.statuses().at(-1);
    expect(s).toMatchObject({ state: 'signed-out' });
    expect(s?.state === 'signed-out' && s.reason).toContain('refused with 403');
    expect(t.fetchFn).toHaveBeenCalledTimes(1);
    expect(t.refresh).not.toHaveBeenCalled();
  });

  it('stops on other 4xx answers and says why, but retries 408', async () => {
    const t = setup();
    t.replies.push(400);
    t.stream.start();
    await tick(120_000);
    const s = t.statuses().at(-1);
    expect(s).toMatchObject({ state: 'offline' });
    expect(s?.state === 'offline' && s.reason).toContain('(400: refused with 400)');
    expect(t.fetchFn).toHaveBeenCalledTimes(1);

    const u = setup();
    u.replies.push(408);
    u.stream.start();
    await tick(60_000);
    expect(u.fetchFn.mock.calls.length).toBeGreaterThan(1);
    u.stream.stop();
  });
});
