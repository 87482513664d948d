//! "Handled by …": who acknowledged a notification.

import type { Ack } from '../lib/types';
import { ShieldIcon } from './icons';
import { RelativeTime } from './relative-time';

export function ackName(ack: Ack): string {
  return ack.by.email || ack.by.sub;
}

export function AckLine({ ack, compact = false }: { ack: Ack; compact?: boolean }) {
  return (
    <span className="ack-line" data-testid="ack-line">
      <ShieldIcon size={13} />
      <span>
        Handled by <strong>{ackName(ack)}</strong>
        {!compact && (
          <>
            {' · '}
            <RelativeTime value={ack.at} />
          </>
        )}
      </span>
    </span>
  );
}
