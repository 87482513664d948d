//! Live / Reconnecting in Ns (attempt n) / Offline / Sign-in needed, with
//! the reason on hover.

import { useEffect, useState } from 'react';
import type { ConnectionStatus } from '../../platform';
import { useApp } from '../../stores/app-context';
import { useStore } from '../../stores/create-store';

export function connectionLabel(s: ConnectionStatus, now: number): { label: string; detail: string } {
  switch (s.state) {
    case 'live':
      return { label: 'Live', detail: 'Connected: notifications arrive in real time.' };
    case 'connecting':
      return { label: 'Connecting…', detail: 'Opening the live stream.' };
    case 'reconnecting': {
      const secs = Math.ceil((s.retryAt - now) / 1000);
      const label = secs > 0 ? `Reconnecting in ${secs}s` : 'Reconnecting…';
      return { label: `${label} (attempt ${s.attempt})`, detail: s.reason };
    }
    case 'offline':
      return { label: 'Offline', detail: s.reason };
    case 'signed-out':
      return { label: 'Sign-in needed', detail: s.reason };
  }
}

const STATE_NAMES: Record<ConnectionStatus['state'], string> = {
  live: 'live',
  connecting: 'connecting',
  reconnecting: 'reconnecting',
  offline: 'offline',
  'signed-out': 'sign-in needed',
};

export function ConnectionIndicator() {
  const { notifications } = useApp();
  const status = useStore(notifications.store, (s) => s.status);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (status.state !== 'reconnecting') return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(t);
  }, [status]);
  const { label, detail } = connectionLabel(status, now);
  return (
    <div className={`conn conn--${status.state}`} data-testid="connection-status" data-state={status.state} title={detail}>
      <span className="conn__dot" aria-hidden="true" />
      <span className="conn__label" aria-hidden="true" data-testid="connection-label">
        {label}
      </span>
      {/* Announce state changes, not every tick of the countdown. */}
      <span className="sr-only" role="status">
        {`Connection: ${STATE_NAMES[status.state]}. ${detail}`}
      </span>
    </div>
  );
}
