//! Whether a live notification pops up, from the admin's preferences:
//! severity threshold, muted kinds (optionally until a time) and quiet hours.

import { severityRank, type Notification, type Preferences, type QuietHours } from './types';

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

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** Quiet hours may wrap midnight (22:00–07:00). */
export function inQuietHours(now: Date, q: QuietHours): boolean {
  let local: number;
  try {
    const parts = new Intl.DateTimeFormat('en-GB', {
      timeZone: q.time_zone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).formatToParts(now);
    const h = Number(parts.find((p) => p.type === 'hour')?.value);
    const m = Number(parts.find((p) => p.type === 'minute')?.value);
    local = h * 60 + m;
  } catch {
    local = now.getHours() * 60 + now.getMinutes();
  }
  const start = minutes(q.start);
  const end = minutes(q.end);
  if (start === end) return false;
  return start < end ? local >= start && local < end : local >= start || local < end;
}
