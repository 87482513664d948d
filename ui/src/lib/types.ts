//! Wire types of the Belfry API, mirroring crates/belfry-proto.

export type Severity = 'info' | 'warning' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export interface Notification {
  id: number;
  kind: string;
  severity: Severity;
  title: string;
  body?: string | null;
  link?: string | null;
  data?: Record<string, unknown> | null;
  created_at: string;
}

export interface Actor {
  sub: string;
  email?: string | null;
}

export interface Ack {
  by: Actor;
  at: string;
  note?: string | null;
}

export interface InboxItem extends Notification {
  read: boolean;
  ack: Ack | null;
}

export interface UnreadCounts {
  total: number;
  info: number;
  warning: number;
  critical: number;
}

export const NO_UNREAD: UnreadCounts = { total: 0, info: 0, warning: 0, critical: 0 };

export interface InboxPage {
  items: InboxItem[];
  next_before: number | null;
  unread: UnreadCounts;
}

export interface InboxQuery {
  limit?: number;
  before?: number | null;
  min_severity?: Severity | null;
  kind?: string | null;
  unread?: boolean;
}

export interface ReadyEvent {
  last_id: number;
  unread: UnreadCounts;
}

export interface ReadEvent {
  ids?: number[];
  up_to?: number;
  unread_again?: boolean;
  unread: UnreadCounts;
}

export interface AckEvent {
  id: number;
  ack: Ack | null;
}

export interface MutedKind {
  kind: string;
  until?: string | null;
}

export interface QuietHours {
  start: string;
  end: string;
  time_zone: string;
  critical_breaks_through: boolean;
}

export interface Preferences {
  popup_min_severity: Severity;
  muted_kinds: MutedKind[];
  quiet_hours: QuietHours | null;
  sounds: Record<Severity, boolean>;
  realert_minutes: number;
}

export const DEFAULT_PREFERENCES: Preferences = {
  popup_min_severity: 'warning',
  muted_kinds: [],
  quiet_hours: null,
  sounds: { info: false, warning: true, critical: true },
  realert_minutes: 5,
};

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export const KNOWN_KINDS: readonly string[] = [
  'order.created',
  'payment.received',
  'shipment.updated',
  'payment.expired',
  'stock.low',
  'refund.requested',
  'dispute.created',
  'fraud.detected',
  'system.error',
];
