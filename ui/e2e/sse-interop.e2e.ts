//! Interoperability with a third-party SSE client: the npm `eventsource`
//! package (a WHATWG EventSource for Node) reads `GET /api/admin/events` from
//! the real server through a TCP proxy the test controls, and is dropped and
//! resumed before its first notification, mid-stream and across a server
//! restart. It reconnects by itself and resumes with the standard
//! `Last-Event-ID`, so every notification must arrive exactly once, in order.
//!
//! Drops are network drops (reset or refused connections), never HTTP
//! errors: a standard client gives up for good on a non-200 answer.

import { existsSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server as TcpServer, type Socket } from 'node:net';
import { EventSource, type ErrorEvent } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVER_BIN, adminToken, publish, publishToken, removeDir, startServer, tempDataDir, until, type Server } from './harness';

/** Fast reconnects, and keepalives so the server notices cut streams soon. */
const SERVER_ARGS = ['--retry', '100ms', '--keepalive', '1s'];
const ADMIN = 'interop@shop.example';

// ---------------------------------------------------------------------------
// A TCP proxy between the client and the server.

interface Attempt {
  /** `paused`: refused by the proxy; `down`: the server refused; `forwarded`: reached the server. */
  outcome: 'paused' | 'down' | 'forwarded' | 'pending';
  /** The request's Last-Event-ID header, `null` when it sent none, `undefined` before its head arrived. */
  lastEventId: string | null | undefined;
}

interface Proxy {
  url: string;
  attempts: Attempt[];
  /** Reset every open connection, both sides. */
  cut(): void;
  /** Refuse (accept, then reset at once) every new connection until `resume`. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

async function startProxy(targetPort: number): Promise<Proxy> {
  const open = new Set<Socket>();
  const attempts: Attempt[] = [];
  let paused = false;
  const track = (s: Socket) => {
    open.add(s);
    s.on('error', () => undefined);
    s.on('close', () => open.delete(s));
  };
  const server: TcpServer = createServer((client) => {
    const attempt: Attempt = { outcome: 'pending', lastEventId: undefined };
    attempts.push(attempt);
    track(client);
    if (paused) {
      attempt.outcome = 'paused';
      client.resetAndDestroy();
      return;
    }
    // Read the request head as it passes, only to record Last-Event-ID.
    let head = '';
    const sniff = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', sniff);
      const m = /^last-event-id:[ \t]*(.*?)[ \t]*$/im.exec(head.slice(0, end));
      attempt.lastEventId = m ? (m[1] ?? '') : null;
    };
    client.on('data', sniff);
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    track(upstream);
    upstream.once('connect', () => {
      attempt.outcome = 'forwarded';
    });
    upstream.once('error', () => {
      if (attempt.outcome === 'pending') attempt.outcome = 'down';
      if (!client.destroyed) client.resetAndDestroy();
    });
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    attempts,
    cut() {
      for (const s of open) if (!s.destroyed) s.resetAndDestroy();
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise<void>((done) => server.close(() => done()));
    },
  };
}

// ---------------------------------------------------------------------------
// The third-party client.

interface ReadyData {
  last_id: number;
  unread: Record<string, unknown>;
}

interface Client {
  es: EventSource;
  /** One per successful connection: the `ready` event's id and data. */
  readies: { lastEventId: string; data: ReadyData }[];
  /** Notification ids in arrival order. */
  ids: number[];
  /** Notifications whose `id:` field disagreed with the id in their data. */
  mismatched: string[];
  errors: { code: number | undefined; message: string | undefined }[];
}

function openClient(url: string, token: string): Client {
  const es = new EventSource(`${url}/api/admin/events`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } }),
  });
  const c: Client = { es, readies: [], ids: [], mismatched: [], errors: [] };
  es.addEventListener('ready', (ev: MessageEvent) => {
    c.readies.push({ lastEventId: ev.lastEventId, data: JSON.parse(ev.data as string) as ReadyData });
  });
  es.addEventListener('notification', (ev: MessageEvent) => {
    const n = JSON.parse(ev.data as string) as { id: number; title: string };
    if (ev.lastEventId !== String(n.id)) c.mismatched.push(`id: ${ev.lastEventId}, data.id ${n.id}`);
    c.ids.push(n.id);
  });
  es.addEventListener('error', (ev: ErrorEvent) => {
    c.errors.push({ code: ev.code, message: ev.message });
  });
  return c;
}

// ---------------------------------------------------------------------------
// Per-test fixture: a data directory, the server, the proxy in front of it.

interface Fixture {
  dataDir: string;
  server: Server;
  proxy: Proxy;
  publisher: string;
  admin: string;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function fixture(): Promise<Fixture> {
  if (!existsSync(SERVER_BIN)) throw new Error(`no server binary at ${SERVER_BIN}: run cargo build -p belfry-server or set BELFRY_SERVER_BIN`);
  const dataDir = tempDataDir();
  cleanups.push(() => removeDir(dataDir));
  const f: Fixture = {
    dataDir,
    publisher: publishToken(dataDir),
    admin: adminToken(dataDir, ADMIN),
    server: await startServer(dataDir, 0, SERVER_ARGS),
    proxy: undefined as unknown as Proxy,
  };
  cleanups.push(() => f.server.stop());
  f.proxy = await startProxy(f.server.port);
  cleanups.push(() => f.proxy.close());
  return f;
}

function client(f: Fixture): Client {
  const c = openClient(f.proxy.url, f.admin);
  cleanups.push(() => c.es.close());
  return c;
}

let counter = 0;

async function publishOne(f: Fixture, title = `interop #${++counter}`): Promise<number> {
  return (await publish(f.server.url, f.publisher, { kind: 'order.created', title })).id;
}

async function publishMany(f: Fixture, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(await publishOne(f));
  return ids;
}

function forwarded(p: Proxy): Attempt[] {
  return p.attempts.filter((a) => a.outcome === 'forwarded');
}

function count(p: Proxy, outcome: Attempt['outcome']): number {
  return p.attempts.filter((a) => a.outcome === outcome).length;
}

/** Waits until the client has received `id`. */
function received(c: Client, id: number, what = `notification ${id}`): Promise<void> {
  return until(() => c.ids.includes(id), what);
}

/**
 * Publishes a last notification and waits for it: the stream is ordered, so
 * any duplicate or stray of what came before has arrived by then. Then the
 * client must have received exactly `expected` and the sentinel.
 */
async function settle(f: Fixture, c: Client, expected: number[]): Promise<void> {
  const sentinel = await publishOne(f, 'sentinel');
  await received(c, sentinel, 'the sentinel');
  expect(c.ids).toEqual([...expected, sentinel]);
  expect(c.mismatched).toEqual([]);
  // Every drop looked like a network failure: no HTTP status, never given up.
  expect(c.errors.filter((e) => e.code !== undefined)).toEqual([]);
  expect(c.es.readyState).toBe(EventSource.OPEN);
}

/** Cuts the connection and keeps the client out until `resume`. */
async function dropAndHold(f: Fixture, c: Client): Promise<void> {
  const errors = c.errors.length;
  f.proxy.pause();
  f.proxy.cut();
  await until(() => c.errors.length > errors, 'the client to notice the drop');
}

/** Lets the client back in once it has been refused at least once more. */
async function resumeAfterARefusal(f: Fixture): Promise<void> {
  const refused = count(f.proxy, 'paused');
  await until(() => count(f.proxy, 'paused') > refused, 'a refused reconnect attempt');
  f.proxy.resume();
}

describe('a standard SSE client (npm eventsource) resumes without loss or duplicates', () => {
  it('dropped before its first notification, it resumes from the ready event id', async () => {
    const f = await fixture();
    const history = await publishOne(f, 'published before the client connected');
    const c = client(f);
    await until(() => c.readies.length === 1, 'ready');
    const ready = c.readies[0]!;
    // No Last-Event-ID was sent, so the ready event's id is the newest id.
    expect(forwarded(f.proxy)[0]?.lastEventId).toBeNull();
    expect(ready.data.last_id).toBe(history);
    expect(ready.lastEventId).toBe(String(ready.data.last_id));
    expect(c.ids).toEqual([]);

    await dropAndHold(f, c);
    const away = await publishMany(f, 3);
    await resumeAfterARefusal(f);
    await received(c, away[2]!);

    // It came back with the ready event's id and got exactly the three.
    expect(c.readies).toHaveLength(2);
    expect(forwarded(f.proxy).map((a) => a.lastEventId)).toEqual([null, String(history)]);
    expect(c.readies[1]!.lastEventId).toBe(String(history));
    await settle(f, c, away);
  });

  it('dropped mid-stream, again and again, it gets every notification exactly once and in order', async () => {
    const f = await fixture();
    await publishOne(f, 'published before the client connected');
    const c = client(f);
    await until(() => c.readies.length === 1, 'ready');

    const first = await publishMany(f, 3);
    await received(c, first[2]!);

    await dropAndHold(f, c);
    const away = await publishMany(f, 3);
    await resumeAfterARefusal(f);
    await received(c, away[2]!);
    expect(forwarded(f.proxy)[1]?.lastEventId).toBe(String(first[2]));

    // Cuts in the middle of a burst that goes on while the client comes
    // straight back: whether a notification was in flight, published while
    // it was away or during its reconnect, nothing is lost or repeated.
    const burst: number[] = [];
    for (let i = 0; i < 12; i++) {
      burst.push(await publishOne(f));
      if (i === 3) f.proxy.cut();
      if (i === 8) {
        await until(() => c.readies.length === 3, 'back after the first cut in the burst');
        f.proxy.cut();
      }
    }
    await received(c, burst[11]!);

    await settle(f, c, [...first, ...away, ...burst]);
    expect(c.readies).toHaveLength(4);
  });

  it('across a server restart on the same port and data, it gets only what is new', async () => {
    const f = await fixture();
    const c = client(f);
    await until(() => c.readies.length === 1, 'ready');
    const before = await publishMany(f, 2);
    await received(c, before[1]!);

    const port = f.server.port;
    const refusedByServer = count(f.proxy, 'down');
    await f.server.stop();
    expect(f.server.process.exitCode ?? f.server.process.signalCode).not.toBeNull();
    // The client keeps trying against the stopped server (connection refused).
    await until(() => count(f.proxy, 'down') > refusedByServer, 'a reconnect refused by the stopped server');
    expect(c.es.readyState).toBe(EventSource.CONNECTING);

    // Hold it out until the restarted server has what it missed.
    f.proxy.pause();
    f.server = await startServer(f.dataDir, port, SERVER_ARGS);
    expect(f.server.port).toBe(port);
    const after = await publishMany(f, 3);
    expect(after[0]!).toBeGreaterThan(before[1]!);
    await resumeAfterARefusal(f);
    await received(c, after[2]!);

    expect(c.readies).toHaveLength(2);
    expect(c.readies[1]!.lastEventId).toBe(String(before[1]));
    expect(forwarded(f.proxy).at(-1)?.lastEventId).toBe(String(before[1]));
    // And live delivery from the restarted server.
    const live = await publishOne(f);
    await received(c, live);
    await settle(f, c, [...before, ...after, live]);
  });
});
