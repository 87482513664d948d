import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Notification, Severity } from '../lib/types';
import { createToastStore, MAX_QUEUED, TOAST_MS } from './toast-store';

const n = (id: number, severity: Severity = 'warning'): Notification => ({
  id,
  kind: 'stock.low',
  severity,
  title: `N${id}`,
  body: null,
  link: null,
  data: null,
  created_at: '2026-11-29T12:00:00Z',
});

describe('toast store', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const keys = (t: ReturnType<typeof createToastStore>) => t.store.get().toasts.map((x) => x.key);

  it('dismisses a toast after five seconds', () => {
    const t = createToastStore();
    t.notify(n(1));
    vi.advanceTimersByTime(TOAST_MS - 1);
    expect(keys(t)).toEqual(['n-1']);
    vi.advanceTimersByTime(1);
    expect(keys(t)).toEqual([]);
  });

  it('pauses the countdown on hover and while the window is hidden', () => {
    const t = createToastStore();
    t.notify(n(1));
    vi.advanceTimersByTime(3_000);
    t.setPaused(true);
    vi.advanceTimersByTime(60_000);
    expect(keys(t)).toEqual(['n-1']);
    t.setPaused(false);
    t.setHidden(true);
    vi.advanceTimersByTime(60_000);
    expect(keys(t)).toEqual(['n-1']);
    t.setHidden(false);
    vi.advanceTimersByTime(1_999);
    expect(keys(t)).toEqual(['n-1']);
    vi.advanceTimersByTime(1);
    expect(keys(t)).toEqual([]);
  });

  it('keeps critical toasts until dismissed', () => {
    const t = createToastStore();
    t.notify(n(1, 'critical'));
    vi.advanceTimersByTime(10 * 60_000);
    expect(keys(t)).toEqual(['n-1']);
    t.dismissNotification(1);
    expect(keys(t)).toEqual([]);
  });

  it('counts down only the three visible toasts; the rest wait their turn', () => {
    const t = createToastStore();
    for (const id of [1, 2, 3, 4, 5]) t.notify(n(id));
    expect(keys(t)).toEqual(['n-5', 'n-4', 'n-3', 'n-2', 'n-1']);
    vi.advanceTimersByTime(TOAST_MS);
    expect(keys(t)).toEqual(['n-2', 'n-1']);
    vi.advanceTimersByTime(TOAST_MS);
    expect(keys(t)).toEqual([]);
  });

  it('bounds the queue, dropping the oldest non-sticky toast', () => {
    const t = createToastStore();
    t.notify(n(0, 'critical'));
    for (let id = 1; id <= MAX_QUEUED + 10; id += 1) t.notify(n(id));
    const all = keys(t);
    expect(all).toHaveLength(MAX_QUEUED);
    expect(all).toContain('n-0');
    expect(all).not.toContain('n-1');
  });

  it('folds backlog into one summary toast', () => {
    const t = createToastStore();
    t.backlog(n(1));
    t.backlog(n(2));
    expect(t.store.get().toasts).toHaveLength(1);
    expect(t.store.get().toasts[0]?.count).toBe(2);
    vi.advanceTimersByTime(TOAST_MS);
    expect(t.store.get().toasts).toHaveLength(0);
  });
});
