//! OS notifications in browser mode: the real server, real headless Chromium
//! with the notifications permission set, and a recording `Notification`
//! constructor installed before the page's own scripts run.

import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  newContext,
  publish,
  setUp,
  signIn,
  tearDown,
  until,
  watchPage,
  type Server,
} from './harness';

const DANA = { email: 'dana@shop.example', password: 'dana has a long password' };

interface Raised {
  title: string;
  body: string;
  tag: string;
  requireInteraction: boolean;
}

let server: Server;
let dataDir: string;
let token: string;
let browser: Browser;
const contexts: BrowserContext[] = [];

/**
 * Replaces `window.Notification` with a subclass that records every pop-up
 * the page raises (and every permission request) and then raises it for real.
 */
function recordNotifications(): void {
  const Real = window.Notification;
  const w = window as unknown as { __raised: Raised[]; __permissionRequests: number };
  w.__raised = [];
  w.__permissionRequests = 0;
  class Recording extends Real {
    constructor(title: string, options: NotificationOptions = {}) {
      w.__raised.push({
        title,
        body: options.body ?? '',
        tag: options.tag ?? '',
        requireInteraction: options.requireInteraction === true,
      });
      super(title, options);
    }
    static override requestPermission(...args: Parameters<typeof Notification.requestPermission>) {
      w.__permissionRequests += 1;
      return Real.requestPermission(...args);
    }
  }
  Object.defineProperty(window, 'Notification', { value: Recording, configurable: true, writable: true });
}

function raised(page: Page): Promise<Raised[]> {
  return page.evaluate(() => (window as unknown as { __raised: Raised[] }).__raised);
}

function permissionRequests(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __permissionRequests: number }).__permissionRequests);
}

/** A browser context with the recorder installed, and its first page. */
async function context(permission: 'granted' | 'denied'): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await newContext(browser);
  contexts.push(ctx);
  if (permission === 'granted') await ctx.grantPermissions(['notifications'], { origin: server.url });
  await ctx.addInitScript(recordNotifications);
  const page = await ctx.newPage();
  if (permission === 'denied') {
    // What a user who clicked Block gets: Playwright can only grant, so set
    // the browser's own permission state through the DevTools protocol.
    const cdp = await ctx.newCDPSession(page);
    const { targetInfo } = await cdp.send('Target.getTargetInfo');
    await cdp.send('Browser.setPermission', {
      permission: { name: 'notifications' },
      setting: 'denied',
      origin: server.url,
      browserContextId: targetInfo.browserContextId,
    });
  }
  return { ctx, page };
}

async function openSettings(page: Page) {
  await page.getByRole('link', { name: 'Settings' }).click();
  const status = page.getByTestId('os-notifications-status');
  await status.waitFor();
  return status;
}

beforeAll(async () => {
  ({ dataDir, token, server, browser } = await setUp([DANA]));
});

afterAll(() => tearDown({ contexts, browser, server, dataDir }));

describe('OS notifications in browser mode', () => {
  let ctx: BrowserContext;
  let page: Page;
  let fraudId = 0;

  it('asks for nothing on load, is enabled from Settings, and raises one pop-up for a critical but none for an info', async () => {
    ({ ctx, page } = await context('granted'));
    const seen = watchPage(page);
    await signIn(page, server.url, DANA.email, DANA.password);
    expect(await permissionRequests(page)).toBe(0);

    const status = await openSettings(page);
    expect(await status.getAttribute('data-state')).toBe('off');
    // Permission is already granted here, so enabling needs no prompt; the
    // unit tests cover the prompt itself.
    await page.getByTestId('os-notifications-enable').click();
    await until(async () => (await status.getAttribute('data-state')) === 'on', 'notifications on');
    await page.getByTestId('os-notifications').screenshot({ path: join(ARTIFACTS, 'settings-os-notifications-on.png') });

    // The info first: once the critical has made its toast, the info has
    // been through the same decision.
    await publish(server.url, token, { kind: 'order.created', title: 'Order #3001 placed', body: '1 item · €12.00' });
    ({ id: fraudId } = await publish(server.url, token, {
      kind: 'fraud.detected',
      title: 'Possible fraud on order #3002',
      body: 'Billing and shipping countries differ; 4 attempts in 2 minutes.',
    }));
    await page.locator(`[data-testid="toast"][data-id="${fraudId}"]`).waitFor();
    await until(async () => (await raised(page)).length > 0, 'an OS notification');
    expect(await raised(page)).toEqual([
      {
        title: 'Possible fraud on order #3002',
        body: 'Billing and shipping countries differ; 4 attempts in 2 minutes.',
        tag: `belfry-${fraudId}`,
        requireInteraction: true,
      },
    ]);
    expect(seen.errors).toEqual([]);
  });

  it('does not raise a notification again after a reload, nor twice with a second tab open', async () => {
    await page.reload();
    await page.locator('[data-testid="connection-status"][data-state="live"]').waitFor();
    const second = await ctx.newPage();
    await signIn(second, server.url, DANA.email, DANA.password);
    // Both tabs are live before the publish, so both receive it.
    const both = await publish(server.url, token, { kind: 'system.error', title: 'Payment provider unreachable', body: 'Checkout is failing.' });
    for (const p of [page, second]) await p.locator(`[data-testid="toast"][data-id="${both.id}"]`).waitFor();
    // Pop-ups are decided in arrival order across tabs (a Web Lock): once a
    // later one was raised, every decision about the earlier one is made.
    const marker = await publish(server.url, token, { kind: 'dispute.created', title: 'Chargeback on order #3003' });
    const all = async () => [...(await raised(page)), ...(await raised(second))];
    await until(async () => (await all()).some((r) => r.tag === `belfry-${marker.id}`), 'the marker pop-up');
    expect((await all()).map((r) => r.tag).sort()).toEqual([`belfry-${both.id}`, `belfry-${marker.id}`].sort());
    expect((await all()).some((r) => r.tag === `belfry-${fraudId}`)).toBe(false);
    await second.close();
  });

  it('folds what was missed offline into one summary pop-up', async () => {
    const before = (await raised(page)).length;
    await ctx.setOffline(true);
    const status = page.getByTestId('connection-status');
    await until(async () => (await status.getAttribute('data-state')) === 'offline', 'offline');
    const missed = [];
    for (let i = 1; i <= 4; i += 1) missed.push(await publish(server.url, token, { kind: 'stock.low', title: `Low stock while away ${i}` }));
    await ctx.setOffline(false);
    await until(async () => (await raised(page)).length > before, 'the summary', 40_000);
    expect((await raised(page)).slice(before)).toEqual([
      { title: '4 new notifications', body: '', tag: `belfry-backlog-${missed[3]?.id}`, requireInteraction: false },
    ]);
  });

  it('explains a denied permission in Settings instead of offering to enable', async () => {
    const { page: p } = await context('denied');
    await signIn(p, server.url, DANA.email, DANA.password);
    const status = await openSettings(p);
    expect(await status.getAttribute('data-state')).toBe('denied');
    expect(await status.textContent()).toContain('blocks notifications from this site');
    expect(await p.getByTestId('os-notifications-enable').count()).toBe(0);
    await p.getByTestId('os-notifications').screenshot({ path: join(ARTIFACTS, 'settings-os-notifications-denied.png') });
    // Enabling in another (permitted) browser does not change this one.
    const n = await publish(server.url, token, { kind: 'fraud.detected', title: 'Possible fraud on order #3004' });
    await p.locator(`[data-testid="toast"][data-id="${n.id}"]`).waitFor();
    expect(await raised(p)).toEqual([]);
  });
});
