//! Short relative times ("2 min ago") for notification lists.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Formats `then` relative to `now`; future times (clock skew) read as "just now". */
export function relativeTime(then: Date | string | number, now: number = Date.now()): string {
  const t = typeof then === 'object' ? then.getTime() : new Date(then).getTime();
  if (Number.isNaN(t)) return '';
  const diff = now - t;
  if (diff < 45_000) return 'just now';
  if (diff < HOUR) return `${Math.max(1, Math.round(diff / MINUTE))} min ago`;
  if (diff < DAY) {
    const h = Math.floor(diff / HOUR);
    return `${h} h ago`;
  }
  if (diff < 7 * DAY) {
    const d = Math.floor(diff / DAY);
    return d === 1 ? 'yesterday' : `${d} days ago`;
  }
  return new Date(t).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

/** Full timestamp for tooltips and the detail view. */
export function absoluteTime(then: string): string {
  const d = new Date(then);
  return Number.isNaN(d.getTime()) ? then : d.toLocaleString();
}
