// Runs the shared table of pop-up policy cases, fixtures/popup-policy.json,
// which crates/belfry-client/src/policy.rs must pass too (cargo test). New
// behaviour gets a case there, not a test here, so the two cannot drift apart.
import { describe, expect, it } from 'vitest';
import fixtureJson from '../../../fixtures/popup-policy.json';
import { decidePopup, inQuietHours, MAX_BACKLOG_POPUPS, planPopups, shouldPopUp, type Popup } from './popup-rules';
import type { Notification, Preferences, QuietHours } from './types';

interface QuietCase {
  name: string;
  quiet_hours: QuietHours;
  now: string;
  expected: boolean;
}

interface DecideCase {
  name: string;
  notification: Notification;
  preferences: Preferences;
  now: string;
  expected: Popup | null;
}

interface PlanCase {
  name: string;
  batch: Notification[];
  preferences: Preferences;
  now: string;
  expected: Popup[];
}

interface Fixture {
  max_backlog_popups: number;
  in_quiet_hours: QuietCase[];
  decide: DecideCase[];
  plan: PlanCase[];
}

// JSON imports widen string literals (a severity reads as `string`), so the
// shape is asserted here; a case of the wrong shape fails its own test.
const fixture = fixtureJson as unknown as Fixture;

// `[name, case]` pairs named with `%s`: `$name` would cut a name at 40
// characters, and a failure should say exactly which case it is.
const named = <T extends { name: string }>(cases: T[]): [string, T][] => cases.map((c) => [c.name, c]);

describe('pop-up policy (fixtures/popup-policy.json)', () => {
  it('has the same backlog limit', () => {
    expect(MAX_BACKLOG_POPUPS).toBe(fixture.max_backlog_popups);
  });

  describe('in quiet hours', () => {
    it.each(named(fixture.in_quiet_hours))('%s', (_, { quiet_hours, now, expected }) => {
      expect(inQuietHours(new Date(now), quiet_hours)).toBe(expected);
    });
  });

  describe('one notification', () => {
    it.each(named(fixture.decide))('%s', (_, { notification, preferences, now, expected }) => {
      expect(decidePopup(notification, preferences, new Date(now))).toEqual(expected);
      expect(shouldPopUp(notification, preferences, new Date(now))).toBe(expected !== null);
    });
  });

  describe('a batch', () => {
    it.each(named(fixture.plan))('%s', (_, { batch, preferences, now, expected }) => {
      expect(planPopups(batch, preferences, new Date(now))).toEqual(expected);
    });
  });
});
