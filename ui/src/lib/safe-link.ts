//! Publisher links become anchors only when they are absolute http(s) URLs,
//! so a `javascript:` or `data:` link can never run in the admin's session.

export function safeHref(link: string | null | undefined): string | null {
  if (!link) return null;
  try {
    const url = new URL(link);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '') return url.href;
  } catch {
    // not an absolute URL
  }
  return null;
}

/** Renders a data value as display text (objects as compact JSON). */
export function displayValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
