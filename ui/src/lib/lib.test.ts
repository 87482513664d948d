import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff';
import { badgeText } from './badge';
import { relativeTime } from './relative-time';
import { displayValue, safeHref } from './safe-link';

describe('badge text', () => {
  it('is hidden at zero, exact up to 99, then 99+', () => {
    expect(badgeText(0)).toBeNull();
    expect(badgeText(1)).toBe('1');
    expect(badgeText(99)).toBe('99');
    expect(badgeText(100)).toBe('99+');
    expect(badgeText(12_345)).toBe('99+');
  });
});

describe('relative time', () => {
  const now = Date.parse('2026-11-29T12:00:00Z');
  it('reads naturally from seconds to weeks', () => {
    expect(relativeTime('2026-11-29T11:59:50Z', now)).toBe('just now');
    expect(relativeTime('2026-11-29T11:58:00Z', now)).toBe('2 min ago');
    expect(relativeTime('2026-11-29T11:01:00Z', now)).toBe('59 min ago');
    expect(relativeTime('2026-11-29T09:00:00Z', now)).toBe('3 h ago');
    expect(relativeTime('2026-11-28T11:00:00Z', now)).toBe('yesterday');
    expect(relativeTime('2026-11-25T12:00:00Z', now)).toBe('4 days ago');
    expect(relativeTime('2026-10-01T12:00:00Z', now)).toMatch(/2026/);
  });
  it('treats a future time from clock skew as just now, and garbage as empty', () => {
    expect(relativeTime('2026-11-29T12:05:00Z', now)).toBe('just now');
    expect(relativeTime('not a date', now)).toBe('');
  });
});

describe('backoff', () => {
  it('doubles its ceiling from the base up to the cap, with full jitter', () => {
    const b = new Backoff(500, 30_000, () => 0.999999);
    const delays = Array.from({ length: 9 }, () => b.next());
    expect(delays.map((d) => Math.round(d / 100) * 100)).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(b.attempts).toBe(9);
    b.reset();
    expect(b.ceiling()).toBe(500);
  });
  it('draws anywhere between zero and the ceiling', () => {
    expect(new Backoff(500, 30_000, () => 0).next()).toBe(0);
    expect(new Backoff(500, 30_000, () => 0.5).next()).toBe(250);
  });
  it('takes a new base from the server', () => {
    const b = new Backoff(500, 30_000, () => 0.999999);
    b.setBase(2_000);
    expect(b.ceiling()).toBe(2_000);
    b.setBase(-1);
    expect(b.ceiling()).toBe(2_000);
  });
});

describe('links and values', () => {
  it('only lets absolute http(s) links through', () => {
    expect(safeHref('https://shop.example/admin/orders/1')).toBe('https://shop.example/admin/orders/1');
    expect(safeHref('http://shop.example')).toBe('http://shop.example/');
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('data:text/html,<script>alert(1)</script>')).toBeNull();
    expect(safeHref('/relative')).toBeNull();
    expect(safeHref(null)).toBeNull();
  });
  it('shows data values as plain text', () => {
    expect(displayValue('<b>x</b>')).toBe('<b>x</b>');
    expect(displayValue(3)).toBe('3');
    expect(displayValue({ a: [1] })).toBe('{"a":[1]}');
    expect(displayValue(null)).toBe('—');
  });
});
