//! Wire types of the Belfry API and the UI's helpers around them. The wire
//! types are generated from crates/belfry-proto into ./generated/wire.ts
//! (regenerate with `cargo run -p belfry-proto --features ts --example export_ts`);
//! import them from here.

import type { Preferences, Severity, UnreadCounts } from './generated/wire';

export type * from './generated/wire';
/** Payload of `event: ready` (`Ready` in belfry-proto). */
export type { Ready as ReadyEvent } from './generated/wire';

export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export const NO_UNREAD: UnreadCounts = { total: 0, info: 0, warning: 0, critical: 0 };

export const DEFAULT_PREFERENCES: Preferences = {
  popup_min_severity: 'warning',
  muted_kinds: [],
  quiet_hours: null,
  sounds: { info: false, warning: true, critical: true },
  realert_minutes: 5,
};

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
