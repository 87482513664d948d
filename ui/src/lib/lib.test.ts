import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff';
import { badgeText } from './badge';
import { decidePopup, inQuietHours, planPopups, shouldPopUp } from './popup-rules';
import { relativeTime } from './relative-time';
import { displayValue, safeHref } from './safe-link';
import { DEFAULT_PREFERENCES, type Preferences, type Severity } from './types';

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

describe('pop-up rules', () => {
  const at = new Date('2026-11-29T23:30:00Z');
  const prefs = (p: Partial<Preferences>): Preferences => ({ ...DEFAULT_PREFERENCES, ...p });
  it('follows the severity threshold', () => {
    expect(shouldPopUp({ kind: 'order.created', severity: 'info' }, prefs({}), at)).toBe(false);
    expect(shouldPopUp({ kind: 'stock.low', severity: 'warning' }, prefs({}), at)).toBe(true);
    expect(shouldPopUp({ kind: 'order.created', severity: 'info' }, prefs({ popup_min_severity: 'info' }), at)).toBe(true);
  });
  it('skips muted kinds until the mute ends', () => {
    const p = prefs({ muted_kinds: [{ kind: 'stock.low', until: '2026-11-30T00:00:00Z' }] });
    expect(shouldPopUp({ kind: 'stock.low', severity: 'warning' }, p, at)).toBe(false);
    expect(shouldPopUp({ kind: 'stock.low', severity: 'warning' }, p, new Date('2026-11-30T01:00:00Z'))).toBe(true);
    expect(shouldPopUp({ kind: 'stock.low', severity: 'warning' }, prefs({ muted_kinds: [{ kind: 'stock.low' }] }), at)).toBe(false);
  });
  it('keeps quiet hours across midnight, letting critical through when asked', () => {
    const q = { start: '22:00', end: '07:00', time_zone: 'UTC', critical_breaks_through: true };
    expect(inQuietHours(at, q)).toBe(true);
    expect(inQuietHours(new Date('2026-11-29T12:00:00Z'), q)).toBe(false);
    expect(inQuietHours(new Date('2026-11-29T06:59:00Z'), q)).toBe(true);
    expect(shouldPopUp({ kind: 'stock.low', severity: 'warning' }, prefs({ quiet_hours: q }), at)).toBe(false);
    expect(shouldPopUp({ kind: 'fraud.detected', severity: 'critical' }, prefs({ quiet_hours: q }), at)).toBe(true);
    const strict = { ...q, critical_breaks_through: false };
    expect(shouldPopUp({ kind: 'fraud.detected', severity: 'critical' }, prefs({ quiet_hours: strict }), at)).toBe(false);
  });
  it('reads quiet hours in their own time zone', () => {
    const q = { start: '09:00', end: '17:00', time_zone: 'Asia/Tokyo', critical_breaks_through: true };
    // 23:30 UTC is 08:30 in Tokyo.
    expect(inQuietHours(at, q)).toBe(false);
    expect(inQuietHours(new Date('2026-11-30T00:30:00Z'), q)).toBe(true);
  });
});

describe('OS pop-up plan (mirrors policy.rs)', () => {
  const at = new Date('2026-11-29T12:00:00Z');
  const n = (id: number, severity: Severity, kind = 'stock.low') => ({ id, kind, severity, title: `n${id}`, body: 'body' });
  it('pops up warnings and criticals by default, info not; critical stays, sound follows settings', () => {
    expect(decidePopup(n(1, 'info', 'order.created'), DEFAULT_PREFERENCES, at)).toBeNull();
    expect(decidePopup(n(2, 'warning'), DEFAULT_PREFERENCES, at)).toEqual({
      title: 'n2',
      body: 'body',
      severity: 'warning',
      sound: true,
      persistent: false,
      ids: [2],
    });
    const c = decidePopup(n(3, 'critical', 'fraud.detected'), { ...DEFAULT_PREFERENCES, sounds: { info: false, warning: true, critical: false } }, at);
    expect(c && [c.persistent, c.sound]).toEqual([true, false]);
  });
  it('pops up a short backlog one by one', () => {
    const popups = planPopups([n(1, 'warning'), n(2, 'warning'), n(3, 'critical')], DEFAULT_PREFERENCES, at);
    expect(popups.map((p) => p.title)).toEqual(['n1', 'n2', 'n3']);
  });
  it('folds a long backlog into one summary as severe as its most severe member', () => {
    const batch = [...[1, 2, 3, 4, 5].map((i) => n(i, 'warning')), n(6, 'critical'), n(7, 'critical'), n(8, 'info', 'order.created')];
    expect(planPopups(batch, DEFAULT_PREFERENCES, at)).toEqual([
      { title: '7 new notifications, 2 critical', body: null, severity: 'critical', sound: true, persistent: true, ids: [1, 2, 3, 4, 5, 6, 7] },
    ]);
    const warnings = planPopups([1, 2, 3, 4].map((i) => n(i, 'warning')), DEFAULT_PREFERENCES, at);
    expect(warnings.map((p) => [p.title, p.severity, p.persistent])).toEqual([['4 new notifications', 'warning', false]]);
  });
  it('ignores malformed quiet hours and reads an unknown time zone as UTC, like the desktop app', () => {
    expect(inQuietHours(at, { start: '25:00', end: '07:00', time_zone: 'UTC', critical_breaks_through: true })).toBe(false);
    expect(inQuietHours(at, { start: '11:30', end: '12:30', time_zone: 'Nowhere/Atlantis', critical_breaks_through: true })).toBe(true);
  });
});
