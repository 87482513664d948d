//! End-to-end harness: the real belfry-server binary on an ephemeral port
//! with a temporary data directory serving the built UI, and Debian's
//! Chromium driven by playwright-core (which never downloads a browser).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SERVER_BIN = resolve(UI_DIR, process.env.BELFRY_SERVER_BIN ?? '../target/debug/belfry-server');
export const DIST_DIR = join(UI_DIR, 'dist');
export const ARTIFACTS = join(UI_DIR, 'artifacts');
const CHROMIUM = process.env.BELFRY_CHROMIUM ?? '/usr/bin/chromium';
const JWT_SECRET = 'e2e-secret-that-is-long-enough-for-hs256-000000';

export function checkPrerequisites(): void {
  if (!existsSync(SERVER_BIN)) throw new Error(`no server binary at ${SERVER_BIN}: run cargo build -p belfry-server or set BELFRY_SERVER_BIN`);
  if (!existsSync(join(DIST_DIR, 'index.html'))) throw new Error('no built UI in ui/dist: run npm run build first');
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/setup.sh`);
  mkdirSync(ARTIFACTS, { recursive: true });
}

export interface Server {
  url: string;
  port: number;
  dataDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts the server; `port` 0 picks a free one, a fixed one restarts on the same address.
 * `extraArgs` go after the usual `serve` options (e.g. `['--retry', '100ms']`).
 */
export async function startServer(dataDir: string, port = 0, extraArgs: string[] = []): Promise<Server> {
  // The server writes its bound address here once it listens (renamed into
  // place, never half-written); its log is kept only for error messages.
  const readyFile = join(dataDir, `ready-${process.pid}-${Date.now()}.json`);
  const child = spawn(
    SERVER_BIN,
    ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--ui-dir', DIST_DIR, '--jwt-secret', JWT_SECRET, '--ready-file', readyFile, ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'warn,belfry_server=info' } },
  );
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    log += chunk;
  });
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
  });
  const started = Date.now();
  let url = '';
  while (!url) {
    if (existsSync(readyFile)) {
      const ready = JSON.parse(readFileSync(readyFile, 'utf8')) as { listen: string };
      url = `http://${ready.listen}`;
    } else if (exited !== undefined) {
      throw new Error(`server exited with ${exited}:\n${log}`);
    } else if (Date.now() - started > 15_000) {
      child.kill('SIGKILL');
      throw new Error(`server did not start:\n${log}`);
    } else {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  rmSync(readyFile, { force: true });
  const p = Number(new URL(url).port);
  return {
    url,
    port: p,
    dataDir,
    process: child,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      }),
  };
}

/** Starts a suite: a data directory with these admins, a publish token, the server and the browser. */
export async function setUp(
  admins: { email: string; password: string }[],
  serverArgs: string[] = [],
): Promise<{ dataDir: string; token: string; server: Server; browser: Browser }> {
  checkPrerequisites();
  const dataDir = tempDataDir();
  for (const a of admins) addAdmin(dataDir, a.email, a.password);
  const token = publishToken(dataDir);
  const server = await startServer(dataDir, 0, serverArgs);
  const browser = await launchBrowser();
  return { dataDir, token, server, browser };
}

/** Ends a suite: its browser contexts, the browser, the server, then the data directory. */
export async function tearDown(s: { contexts: BrowserContext[]; browser?: Browser; server?: Server; dataDir?: string }): Promise<void> {
  for (const c of s.contexts) await c.close().catch(() => undefined);
  await s.browser?.close();
  await s.server?.stop();
  if (s.dataDir) removeDir(s.dataDir);
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'belfry-e2e-'));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

function cli(args: string[], input?: string): string {
  const r = spawnSync(SERVER_BIN, args, { input, encoding: 'utf8', env: { ...process.env, RUST_LOG: 'warn' } });
  if (r.status !== 0) throw new Error(`belfry-server ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

export function addAdmin(dataDir: string, email: string, password: string): void {
  cli(['user', '--data-dir', dataDir, '--jwt-secret', JWT_SECRET, 'add', '--email', email, '--admin', '--password-stdin'], `${password}\n`);
}

/** Sets a new password, which revokes every sign-in of the account. */
export function setPassword(dataDir: string, email: string, password: string): void {
  cli(['user', '--data-dir', dataDir, '--jwt-secret', JWT_SECRET, 'set-password', email, '--password-stdin'], `${password}\n`);
}

export function publishToken(dataDir: string): string {
  const out = cli(['token', '--data-dir', dataDir, '--jwt-secret', JWT_SECRET, '--scope', 'publish', '--sub', 'orders', '--ttl', '1h']);
  const lines = out.trim().split('\n');
  return lines[lines.length - 1]?.trim() ?? '';
}

/** A JWT with the admin role, for clients that open the event stream without signing in. */
export function adminToken(dataDir: string, email: string): string {
  const out = cli(['token', '--data-dir', dataDir, '--jwt-secret', JWT_SECRET, '--email', email, '--role', 'admin', '--ttl', '1h']);
  const lines = out.trim().split('\n');
  return lines[lines.length - 1]?.trim() ?? '';
}

export interface Published {
  id: number;
}

export async function publish(
  url: string,
  token: string,
  n: { kind: string; title: string; severity?: string; body?: string; link?: string; data?: Record<string, unknown> },
): Promise<Published> {
  const res = await fetch(`${url}/api/notifications`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(n),
  });
  if (res.status !== 201) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Published;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function newContext(browser: Browser, scheme: 'dark' | 'light' = 'dark', width = 1360, height = 860): Promise<BrowserContext> {
  return browser.newContext({ colorScheme: scheme, viewport: { width, height }, reducedMotion: 'reduce' });
}

/** Collects page errors, console errors and dialogs, which no test should see. */
export function watchPage(page: Page): { errors: string[]; dialogs: string[] } {
  const seen = { errors: [] as string[], dialogs: [] as string[] };
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED|net::ERR/.test(m.text())) seen.errors.push(m.text());
  });
  page.on('dialog', (d) => {
    seen.dialogs.push(d.message());
    void d.dismiss();
  });
  return seen;
}

export async function signIn(page: Page, url: string, email: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('connection-status').and(page.locator('[data-state="live"]')).waitFor({ timeout: 15_000 });
}

/** Polls until `check` holds: tests wait on conditions, never on sleeps. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
