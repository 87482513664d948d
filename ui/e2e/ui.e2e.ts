//! The web UI against the real server in real headless Chromium.

import { writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  newContext,
  publish,
  setPassword,
  setUp,
  signIn,
  startServer,
  tearDown,
  tempDataDir,
  removeDir,
  until,
  watchPage,
  type Server,
} from './harness';

const ALICE = { email: 'alice@shop.example', password: 'correct horse battery' };
const BOB = { email: 'bob@shop.example', password: 'another long password' };
const CAROL = { email: 'carol@shop.example', password: 'carol first password' };

let server: Server;
let dataDir: string;
let token: string;
let browser: Browser;
let fraudId = 0;
const contexts: BrowserContext[] = [];

async function open(email: string, password: string, scheme: 'dark' | 'light' = 'dark', width?: number, height?: number) {
  const ctx = await newContext(browser, scheme, width, height);
  contexts.push(ctx);
  const page = await ctx.newPage();
  const seen = watchPage(page);
  await signIn(page, server.url, email, password);
  return { ctx, page, seen };
}

async function badge(page: Page): Promise<number> {
  const b = page.getByTestId('unread-badge');
  if ((await b.count()) === 0) return 0;
  const text = (await b.textContent()) ?? '0';
  return text === '99+' ? 100 : Number(text);
}

async function openPanel(page: Page) {
  const panel = page.getByTestId('notification-panel');
  if (!(await panel.isVisible())) await page.getByTestId('bell').click();
  await panel.waitFor();
  return panel;
}

async function closePanel(page: Page) {
  if (await page.getByTestId('notification-panel').isVisible()) await page.keyboard.press('Escape');
  await page.getByTestId('notification-panel').waitFor({ state: 'detached' });
}

function shot(page: Page, name: string) {
  return page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** What the test channel's receiver got: each request's headers and body. */
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
let receiver: HttpServer;
let configDir: string;

/** A channel receiver on a free port that takes every POST (200). */
async function startReceiver(): Promise<number> {
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
  return (receiver.address() as AddressInfo).port;
}

beforeAll(async () => {
  const port = await startReceiver();
  // Two channels: one that answers, one where nothing listens (port 9 is discard, closed here).
  configDir = tempDataDir();
  const config = join(configDir, 'belfry.toml');
  writeFileSync(
    config,
    `[channels.ops-webhook]\ntype = "webhook"\nurl = "http://127.0.0.1:${port}/hooks"\nsecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"\n` +
      `[channels.gone]\ntype = "slack"\nurl = "http://127.0.0.1:9/services/x"\n`,
  );
  ({ dataDir, token, server, browser } = await setUp([ALICE, BOB, CAROL], ['--config', config]));
});

afterAll(async () => {
  await tearDown({ contexts, browser, server, dataDir });
  await new Promise((done) => receiver.close(done));
  removeDir(configDir);
});

describe('Belfry web UI', () => {
  it('explains a wrong password, then signs in and goes live', async () => {
    const ctx = await newContext(browser);
    contexts.push(ctx);
    const page = await ctx.newPage();
    await page.goto(server.url);
    await page.getByLabel('Email').fill(ALICE.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toContain('Wrong email or password');
    await shot(page, 'login-error-dark');
    await page.getByLabel('Password').fill(ALICE.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor();
    expect(await page.getByTestId('connection-label').textContent()).toBe('Live');
    await ctx.close();
  });

  it('pops a toast, bumps the badge and lists a published notification in the dropdown', async () => {
    const { page, seen } = await open(ALICE.email, ALICE.password);
    const before = await badge(page);
    await publish(server.url, token, {
      kind: 'order.created',
      title: 'Order #1042 placed',
      body: '2 items · €84.00 · Lisbon, PT',
      link: 'https://shop.example/admin/orders/1042',
      data: { order_id: 1042, total: '€84.00', items: 2 },
    });
    const warn = await publish(server.url, token, {
      kind: 'stock.low',
      title: 'Low stock: Merino crew, size M',
      body: 'Only 3 left across all warehouses. Reorder lead time is 9 days.',
      data: { sku: 'MER-CREW-M', remaining: 3 },
    });
    ({ id: fraudId } = await publish(server.url, token, {
      kind: 'fraud.detected',
      title: 'Possible fraud on order #1043',
      body: 'Billing and shipping countries differ; card issued abroad; 4 attempts in 2 minutes.',
      link: 'https://shop.example/admin/orders/1043',
      data: { order_id: 1043, risk_score: 0.93, attempts: 4 },
    }));
    await publish(server.url, token, {
      kind: 'refund.requested',
      title: 'Refund requested for order #1019',
      body: 'Customer reports the parcel arrived damaged.',
    });
    // Info is below the default pop-up threshold (warning): three toasts.
    await until(async () => (await page.getByTestId('toast').count()) === 3, 'three toasts');
    const toast = page.locator(`[data-testid="toast"][data-id="${warn.id}"]`);
    expect(await toast.textContent()).toContain('Low stock: Merino crew, size M');
    expect(await page.locator('[aria-live="assertive"] [data-testid="toast"]').count()).toBe(1);
    await until(async () => (await badge(page)) === before + 4, 'badge +4');
    expect(await page.getByTestId('unread-badge').getAttribute('data-critical')).toBe('true');
    await shot(page, 'toasts-dark');

    const panel = await openPanel(page);
    const titles = await panel.getByTestId('notification-title').allTextContents();
    expect(titles.slice(0, 4)).toEqual([
      'Refund requested for order #1019',
      'Possible fraud on order #1043',
      'Low stock: Merino crew, size M',
      'Order #1042 placed',
    ]);
    await shot(page, 'dropdown-dark');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('bell');
    expect(seen.errors).toEqual([]);
  });

  it('syncs read state to the same admin on another device but not to another admin', async () => {
    const a1 = await open(ALICE.email, ALICE.password);
    const a2 = await open(ALICE.email, ALICE.password);
    const b = await open(BOB.email, BOB.password);
    const n = await publish(server.url, token, { kind: 'payment.expired', title: 'Payment window expired for #1050' });
    const counts = async () => [await badge(a1.page), await badge(a2.page), await badge(b.page)];
    // Every page has the notification (and so its count) before anything is compared.
    for (const s of [a1, a2, b]) {
      await until(async () => (await s.page.locator(`[data-testid="toast"][data-id="${n.id}"]`).count()) === 1, 'toast everywhere');
    }
    const [x1, x2, y] = await counts();
    expect(x1).toBe(x2);
    expect(y).toBeGreaterThan(0);

    const panel = await openPanel(a1.page);
    await panel.locator(`[data-testid="notification-row"][data-id="${n.id}"]`).click();
    await a1.page.getByTestId('notification-detail').waitFor();
    await until(async () => (await badge(a2.page)) === (x2 ?? 0) - 1, 'badge on the second device drops');
    expect(await badge(a1.page)).toBe((x1 ?? 0) - 1);
    expect(await badge(b.page)).toBe(y);
    const bPanel = await openPanel(b.page);
    expect(await bPanel.locator(`[data-testid="notification-row"][data-id="${n.id}"]`).getAttribute('data-read')).toBe('false');
    const a2Panel = await openPanel(a2.page);
    await until(
      async () => (await a2Panel.locator(`[data-testid="notification-row"][data-id="${n.id}"]`).getAttribute('data-read')) === 'true',
      'row read on the second device',
    );
    for (const s of [a1, a2, b]) expect(s.seen.errors).toEqual([]);
    for (const s of [a1, a2, b]) await s.ctx.close();
  });

  it('shows who handled an acknowledged notification to every admin', async () => {
    const a = await open(ALICE.email, ALICE.password);
    const b = await open(BOB.email, BOB.password);
    const n = await publish(server.url, token, {
      kind: 'dispute.created',
      title: 'Chargeback opened on order #998',
      body: 'Reason: item not received. Respond by 12 December.',
      data: { order_id: 998, amount: '€129.00', reason: 'not_received' },
      link: 'https://shop.example/admin/disputes/77',
    });
    await a.page.goto(`${server.url}/inbox/${n.id}`);
    const detail = a.page.getByTestId('notification-detail');
    await detail.waitFor();
    await a.page.getByTestId('ack-button').click();
    await until(async () => ((await detail.getByTestId('detail-ack').textContent()) ?? '').includes(ALICE.email), 'ack on alice');

    const panel = await openPanel(b.page);
    const row = panel.locator(`[data-testid="notification-row"][data-id="${n.id}"]`);
    await until(async () => ((await row.getByTestId('ack-line').textContent().catch(() => '')) ?? '').includes(ALICE.email), 'handled by on bob');
    expect(await row.getByTestId('ack-line').textContent()).toContain(`Handled by ${ALICE.email}`);
    // The sticky critical toast went away with the acknowledgement.
    await until(async () => (await b.page.locator(`[data-testid="toast"][data-id="${n.id}"]`).count()) === 0, 'critical toast gone on bob');
    const link = detail.getByTestId('detail-link');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');
    expect(await link.getAttribute('href')).toBe('https://shop.example/admin/disputes/77');
    await a.ctx.close();
    await b.ctx.close();
  });

  it('renders a title with markup as text and runs nothing', async () => {
    const { page, seen } = await open(ALICE.email, ALICE.password);
    await page.evaluate(() => {
      (window as unknown as { __pwned: boolean }).__pwned = false;
    });
    const evil = '<img src=x onerror="window.__pwned=true;alert(1)">';
    const n = await publish(server.url, token, { kind: 'system.error', severity: 'warning', title: evil, body: '<script>alert(2)</script>' });
    const toast = page.locator(`[data-testid="toast"][data-id="${n.id}"]`);
    await toast.waitFor();
    expect(await toast.textContent()).toContain(evil);
    const panel = await openPanel(page);
    expect(await panel.locator(`[data-testid="notification-row"][data-id="${n.id}"] [data-testid="notification-title"]`).textContent()).toBe(evil);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned: boolean }).__pwned)).toBe(false);
    expect(seen.dialogs).toEqual([]);
    await page.context().close();
  });

  it('shows at most three toasts and a +N more chip', async () => {
    const { page, ctx } = await open(ALICE.email, ALICE.password);
    for (let i = 1; i <= 5; i += 1) await publish(server.url, token, { kind: 'stock.low', title: `Low stock: item ${i}` });
    await until(async () => ((await page.getByTestId('toast-more').textContent().catch(() => '')) ?? '') === '+2 more', '+2 more');
    expect(await page.getByTestId('toast').count()).toBe(3);
    expect(await page.getByTestId('toast').first().textContent()).toContain('Low stock: item 5');
    await shot(page, 'toasts-more-dark');
    await ctx.close();
  });

  it('pages through the inbox with filters as it scrolls', async () => {
    for (let i = 1; i <= 55; i += 1) {
      await publish(server.url, token, { kind: 'shipment.updated', title: `Parcel ${i} out for delivery`, body: `Tracking BF${1000 + i}` });
    }
    const { page, ctx } = await open(ALICE.email, ALICE.password);
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.getByTestId('filter-kind').selectOption('shipment.updated');
    const rows = page.getByTestId('inbox-row');
    await until(async () => (await rows.count()) >= 50, 'first page');
    expect(await rows.first().textContent()).toContain('Parcel 55 out for delivery');
    await rows.nth(49).scrollIntoViewIfNeeded();
    await page.getByTestId('inbox-sentinel').scrollIntoViewIfNeeded();
    await until(async () => (await rows.count()) === 55, 'second page');
    expect(await rows.last().textContent()).toContain('Parcel 1 out for delivery');
    await page.getByText('That’s everything.').waitFor();
    await page.getByTestId('filter-severity').selectOption('critical');
    await until(async () => (await page.getByText('No notifications match these filters.').count()) === 1, 'empty filter result');
    // The summary cards are shortcuts to unread of a severity.
    await page.getByTestId('filter-kind').selectOption('');
    await page.getByTestId('stat-warning').click();
    expect(await page.getByTestId('filter-severity').inputValue()).toBe('warning');
    expect(await page.getByTestId('filter-unread').isChecked()).toBe(true);
    await until(async () => (await rows.count()) > 0, 'unread warnings listed');
    for (const r of await rows.all()) expect(await r.getAttribute('data-read')).toBe('false');
    await ctx.close();
  });

  it('traps focus in the dropdown and works from the keyboard', async () => {
    const { page, ctx } = await open(ALICE.email, ALICE.password);
    await page.getByTestId('bell').focus();
    await page.keyboard.press('Enter');
    const panel = page.getByTestId('notification-panel');
    await panel.waitFor();
    const inside = () => page.evaluate(() => Boolean(document.activeElement?.closest('[data-testid="notification-panel"]')));
    expect(await inside()).toBe(true);
    const stops = await panel.locator('button:not([disabled])').count();
    for (let i = 0; i < stops + 2; i += 1) {
      await page.keyboard.press('Tab');
      expect(await inside()).toBe(true);
    }
    await page.keyboard.press('Shift+Tab');
    expect(await inside()).toBe(true);
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('bell');
    await ctx.close();
  });

  it('saves preferences and syncs them to the admin\'s other devices; mark unread sticks', async () => {
    const a1 = await open(ALICE.email, ALICE.password);
    const a2 = await open(ALICE.email, ALICE.password);
    await a1.page.getByRole('link', { name: 'Settings' }).click();
    await a1.page.getByTestId('popup-threshold').selectOption('info');
    await a1.page.getByTestId('save-preferences').click();
    await a1.page.getByText('Saved.').waitFor();
    // An info notification now pops up on the other device too.
    const n = await publish(server.url, token, { kind: 'order.created', title: 'Order #2001 placed', body: '1 item' });
    await a2.page.locator(`[data-testid="toast"][data-id="${n.id}"]`).waitFor();

    await a2.page.goto(`${server.url}/inbox/${n.id}`);
    const toggle = a2.page.getByTestId('toggle-read');
    await until(async () => (await toggle.textContent()) === 'Mark unread', 'opened notification is read');
    await toggle.click();
    await until(async () => (await toggle.textContent()) === 'Mark read', 'marked unread');
    await until(
      async () => (await a2.page.locator(`[data-testid="inbox-row"][data-id="${n.id}"]`).getAttribute('data-read')) === 'false',
      'row unread in the list',
    );
    expect(await toggle.textContent()).toBe('Mark read');

    // Quiet hours shown for the screenshot only (saving them would silence later tests).
    await a1.page.getByTestId('quiet-hours').check({ force: true });
    await a1.page.getByLabel('Kind to mute').fill('shipment.updated');
    await a1.page.getByLabel('Mute for').selectOption('1');
    await a1.page.getByRole('button', { name: 'Mute', exact: true }).click();
    await shot(a1.page, 'settings-dark');
    await a1.page.getByTestId('quiet-hours').uncheck({ force: true });
    await a1.page.getByTestId('popup-threshold').selectOption('warning');
    await a1.page.getByTestId('save-preferences').click();
    await a1.page.getByText('Saved.').waitFor();
    // The timed mute went through the server and back.
    await until(async () => ((await a2.page.getByRole('link', { name: 'Settings' }).count()) > 0), 'nav');
    await a2.page.getByRole('link', { name: 'Settings' }).click();
    await until(async () => (await a2.page.getByRole('button', { name: 'Unmute shipment.updated' }).count()) === 1, 'mute synced');
    expect(await a2.page.getByTestId('muted-kind').filter({ hasText: 'shipment.updated' }).textContent()).toContain('until');
    await a1.ctx.close();
    await a2.ctx.close();
  });

  it('lists the server\'s channels in Settings and sends a test message through one', async () => {
    const a = await open(ALICE.email, ALICE.password);
    await a.page.getByRole('link', { name: 'Settings' }).click();
    const channel = a.page.getByTestId('channel-ops-webhook');
    await channel.waitFor();
    expect(await channel.textContent()).toContain('webhook');
    // The secret is the server's alone.
    expect(await a.page.getByTestId('channels').textContent()).not.toContain('whsec_');
    await a.page.getByTestId('channel-test-ops-webhook').click();
    await until(async () => (await a.page.getByTestId('channel-result-ops-webhook').count()) === 1, 'test result shown');
    expect(await a.page.getByTestId('channel-result-ops-webhook').textContent()).toBe('Delivered (answered 200 OK)');
    expect(received).toHaveLength(1);
    const [got] = received;
    expect(got?.headers['webhook-signature']).toMatch(/^v1,/);
    expect(JSON.parse(got?.body ?? '{}')).toMatchObject({ reason: 'test', notification: { severity: 'warning' } });

    await a.page.getByTestId('channel-test-gone').click();
    await until(async () => (await a.page.getByTestId('channel-result-gone').count()) === 1, 'failed test shown');
    expect(await a.page.getByTestId('channel-result-gone').textContent()).toContain('a real alert would be retried');
    await shot(a.page, 'settings-channels');
    await a.ctx.close();
  });

  it('lays out the inbox in dark and light, wide and at 360 px', async () => {
    for (const scheme of ['dark', 'light'] as const) {
      const { page, ctx } = await open(ALICE.email, ALICE.password, scheme);
      // A deep link to a notification well below the first page.
      await page.goto(`${server.url}/inbox/${fraudId}`);
      await until(async () => ((await page.getByTestId('detail-title').textContent().catch(() => '')) ?? '') === 'Possible fraud on order #1043', 'deep-linked detail');
      await page.getByTestId('filter-severity').selectOption('warning');
      await page.getByTestId('detail-fields').waitFor();
      await shot(page, `inbox-${scheme}`);
      if (scheme === 'light') {
        await publish(server.url, token, { kind: 'stock.low', title: 'Low stock: Linen shirt, size L', body: '5 left.' });
        await page.getByTestId('toast').first().waitFor();
        await shot(page, 'toasts-light');
        await openPanel(page);
        await shot(page, 'dropdown-light');
        await closePanel(page);
      }
      await ctx.close();
    }
    const { page, ctx } = await open(ALICE.email, ALICE.password, 'dark', 360, 740);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await shot(page, 'inbox-360-dark');
    await openPanel(page);
    await shot(page, 'dropdown-360-dark');
    await closePanel(page);
    await page.goto(`${server.url}/inbox/${fraudId}`);
    await page.getByTestId('detail-fields').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await shot(page, 'detail-360-dark');
    await ctx.close();
  });

  it('shows Offline without network, then folds what it missed into one summary toast', async () => {
    const { page, ctx, seen } = await open(ALICE.email, ALICE.password);
    const before = await badge(page);
    await ctx.setOffline(true);
    const status = page.getByTestId('connection-status');
    await until(async () => (await status.getAttribute('data-state')) === 'offline', 'offline');
    expect(await page.getByTestId('connection-label').textContent()).toBe('Offline');
    await publish(server.url, token, { kind: 'stock.low', title: 'Missed offline #1' });
    await publish(server.url, token, { kind: 'fraud.detected', title: 'Missed offline #2' });
    await ctx.setOffline(false);
    await until(async () => (await status.getAttribute('data-state')) === 'live', 'live again', 40_000);
    const summary = page.locator('[data-testid="toast"][data-kind="summary"]');
    await summary.waitFor();
    expect(await summary.textContent()).toContain('2 notifications arrived while you were away');
    expect(await summary.textContent()).toContain('1 critical');
    expect(await page.locator('[data-testid="toast"][data-id]').filter({ hasText: 'Missed offline' }).count()).toBe(0);
    await until(async () => (await badge(page)) === before + 2, 'badge +2');
    await shot(page, 'backlog-summary-dark');
    expect(seen.errors).toEqual([]);
    await ctx.close();
  });

  it('asks for a new sign-in when the account\'s sign-ins are revoked', async () => {
    const { page, ctx } = await open(CAROL.email, CAROL.password);
    setPassword(dataDir, CAROL.email, 'carol second password');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'Sign in again' }).count()).toBe(1);
    await page.getByLabel('Email').fill(CAROL.email);
    await page.getByLabel('Password').fill('carol second password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor();
    await ctx.close();
  });

  it('reconnects after a server restart and shows what was published meanwhile exactly once', async () => {
    const { page, seen } = await open(ALICE.email, ALICE.password);
    const before = await badge(page);
    const port = server.port;
    await server.stop();
    const status = page.getByTestId('connection-status');
    await until(async () => (await status.getAttribute('data-state')) === 'reconnecting', 'reconnecting');
    expect(await page.getByTestId('connection-label').textContent()).toMatch(/^Reconnecting( in \d+s|…) \(attempt \d+\)$/);
    await shot(page, 'reconnecting-dark');
    server = await startServer(dataDir, port);
    const missed = [
      await publish(server.url, token, { kind: 'payment.expired', title: 'Missed while away #1' }),
      await publish(server.url, token, { kind: 'refund.requested', title: 'Missed while away #2' }),
    ];
    await until(async () => (await status.getAttribute('data-state')) === 'live', 'live again', 40_000);
    await until(async () => (await badge(page)) === before + 2, 'badge +2 exactly');
    const panel = await openPanel(page);
    for (const m of missed) {
      await until(async () => (await panel.locator(`[data-testid="notification-row"][data-id="${m.id}"]`).count()) === 1, `row ${m.id}`);
    }
    expect(await panel.getByTestId('notification-title').filter({ hasText: 'Missed while away #1' }).count()).toBe(1);
    expect(await panel.getByTestId('notification-title').filter({ hasText: 'Missed while away #2' }).count()).toBe(1);
    expect(await badge(page)).toBe(before + 2);
    expect(seen.errors).toEqual([]);
  });
});
