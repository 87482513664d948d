//! Whether a live notification pops up, from the admin's preferences:
//! severity threshold, muted kinds (optionally until a time) and quiet hours;
//! and which OS pop-ups a batch makes. The TypeScript twin of the desktop
//! app's policy, crates/belfry-client/src/policy.rs (`decide`, `plan`), so a
//! browser and the desktop app pop up alike. The behaviour is specified by one
//! table of cases, fixtures/popup-policy.json at the repository root, which
//! both must pass (popup-policy.test.ts here, `cargo test` there): to change
//! the policy, change or add a case there, then both implementations.

import { SEVERITIES, severityRank, type Notification, type Preferences, type QuietHours, type Severity } from './types';

/**
 * A replayed backlog longer than this becomes one summary pop-up: after a
 * laptop wakes up, one "12 new notifications" beats twelve stale pop-ups.
 * Same number as `MAX_BACKLOG_POPUPS` in policy.rs.
 */
export const MAX_BACKLOG_POPUPS = 3;

/** One OS pop-up to raise (policy.rs `Popup`; `severity` stands for its urgency). */
export interface Popup {
  title: string;
  body: string | null;
  severity: Severity;
  sound: boolean;
  /** Stays until dismissed (critical) instead of timing out. */
  persistent: boolean;
  /** The notifications it stands for, oldest first. */
  ids: number[];
}

export function shouldPopUp(n: Pick<Notification, 'kind' | 'severity'>, prefs: Preferences, now: Date): boolean {
  if (severityRank(n.severity) < severityRank(prefs.popup_min_severity)) return false;
  const muted = prefs.muted_kinds.some(
    (m) => m.kind === n.kind && (!m.until || new Date(m.until).getTime() > now.getTime()),
  );
  if (muted) return false;
  if (prefs.quiet_hours && inQuietHours(now, prefs.quiet_hours)) {
    return n.severity === 'critical' && prefs.quiet_hours.critical_breaks_through;
  }
  return true;
}

/** The pop-up for one notification, or null when it stays silent. */
export function decidePopup(n: Pick<Notification, 'id' | 'kind' | 'severity' | 'title' | 'body'>, prefs: Preferences, now: Date): Popup | null {
  if (!shouldPopUp(n, prefs, now)) return null;
  return {
    title: n.title,
    body: n.body ?? null,
    severity: n.severity,
    sound: prefs.sounds[n.severity],
    persistent: n.severity === 'critical',
    ids: [n.id],
  };
}

/**
 * The pop-ups for a batch: each notification's own when at most
 * MAX_BACKLOG_POPUPS of them pop up, else one summary ("7 new notifications,
 * 2 critical") as severe, loud and persistent as its most severe member.
 * Live notifications go one at a time; a replayed backlog as one batch.
 */
export function planPopups(
  batch: readonly Pick<Notification, 'id' | 'kind' | 'severity' | 'title' | 'body'>[],
  prefs: Preferences,
  now: Date,
): Popup[] {
  const popups = batch.map((n) => decidePopup(n, prefs, now)).filter((p): p is Popup => p !== null);
  if (popups.length <= MAX_BACKLOG_POPUPS) return popups;
  const critical = popups.filter((p) => p.severity === 'critical').length;
  const top = Math.max(...popups.map((p) => severityRank(p.severity)));
  return [
    {
      title: `${popups.length} new notifications${critical > 0 ? `, ${critical} critical` : ''}`,
      body: null,
      severity: SEVERITIES[top] ?? 'info',
      sound: popups.some((p) => p.sound),
      persistent: popups.some((p) => p.persistent),
      ids: popups.flatMap((p) => p.ids),
    },
  ];
}

/** Minutes after midnight of `HH:MM`, or null if malformed (as in policy.rs). */
function minutes(hhmm: string): number | null {
  const m = /^(\d{1,2}):(\d{1,2})$/.exec(hhmm);
  if (!m) return null;
  const [h, min] = [Number(m[1]), Number(m[2])];
  return h < 24 && min < 60 ? h * 60 + min : null;
}

/** Minutes after midnight of `now` in an IANA time zone; an unknown zone is read as UTC, as the desktop app does. */
function localMinutes(now: Date, timeZone: string): number {
  // Newer engines (Chromium among them) also take a UTC offset like "+01:00";
  // that is no IANA name, and the desktop app (jiff) reads it as unknown.
  if (!/^[+-]/.test(timeZone)) {
    try {
      const parts = new Intl.DateTimeFormat('en-GB', {
        timeZone,
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).formatToParts(now);
      const h = Number(parts.find((p) => p.type === 'hour')?.value);
      const m = Number(parts.find((p) => p.type === 'minute')?.value);
      return h * 60 + m;
    } catch {
      // Unknown zone: UTC below.
    }
  }
  return now.getUTCHours() * 60 + now.getUTCMinutes();
}

/** Quiet hours may wrap midnight (22:00–07:00); they are read in their own time zone. */
export function inQuietHours(now: Date, q: QuietHours): boolean {
  const local = localMinutes(now, q.time_zone);
  const start = minutes(q.start);
  const end = minutes(q.end);
  // Malformed times mean no quiet hours rather than silencing everything.
  if (start === null || end === null || start === end) return false;
  return start < end ? local >= start && local < end : local >= start || local < end;
}
