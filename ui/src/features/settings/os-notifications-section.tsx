//! Settings section for OS notifications raised by the page (browser mode):
//! turning them on asks the browser for permission, on this click only, and
//! a permission that is denied or unavailable is explained, not ignored.

import { useEffect, useState } from 'react';
import type { OsNotifications, OsPermission } from '../../platform';

type Outcome = 'dismissed' | null;

export function OsNotificationsSection({ os }: { os: OsNotifications }) {
  const [permission, setPermission] = useState<OsPermission>(() => os.permission());
  const [enabled, setEnabled] = useState(() => os.enabled());
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [asking, setAsking] = useState(false);

  useEffect(() => {
    // The admin may change the site's permission in the browser meanwhile.
    const refresh = () => {
      setPermission(os.permission());
      setEnabled(os.enabled());
    };
    window.addEventListener('focus', refresh);
    return () => window.removeEventListener('focus', refresh);
  }, [os]);

  const enable = async () => {
    setAsking(true);
    try {
      const result = await os.enable();
      setPermission(result);
      setEnabled(os.enabled());
      setOutcome(result === 'default' ? 'dismissed' : null);
    } finally {
      setAsking(false);
    }
  };

  const on = enabled && permission === 'granted';
  const state = on ? 'on' : permission === 'granted' || permission === 'default' ? 'off' : permission;

  return (
    <section className="card settings__section" aria-labelledby="os-notifications" data-testid="os-notifications">
      <h2 id="os-notifications" className="section-title">
        Desktop notifications
      </h2>
      <p className="muted" data-testid="os-notifications-status" data-state={state} role="status">
        {message(state, outcome)}
      </p>
      {state === 'off' && (
        <button
          type="button"
          className="btn btn--primary"
          data-testid="os-notifications-enable"
          disabled={asking}
          onClick={() => void enable()}
        >
          {asking ? 'Waiting for the browser…' : 'Enable desktop notifications'}
        </button>
      )}
      {state === 'on' && (
        <button
          type="button"
          className="btn"
          data-testid="os-notifications-disable"
          onClick={() => {
            os.disable();
            setEnabled(false);
          }}
        >
          Turn off in this browser
        </button>
      )}
    </section>
  );
}

function message(state: string, outcome: Outcome): string {
  switch (state) {
    case 'on':
      return 'On in this browser. Pop-ups follow the alert settings below (threshold, muted kinds, quiet hours) while a Belfry tab is open; critical ones stay until you dismiss them.';
    case 'denied':
      return 'This browser blocks notifications from this site. To allow them, open the site settings (the icon left of the address), set Notifications to Allow, then reload this page.';
    case 'insecure':
      return 'Browsers allow desktop notifications only on HTTPS (or localhost). Open Belfry over HTTPS to use them.';
    case 'unsupported':
      return 'This browser cannot show desktop notifications. Toasts and sounds in this tab still work.';
    default:
      return outcome === 'dismissed'
        ? 'The browser did not grant permission: the prompt was dismissed. Try again and choose Allow.'
        : 'Get a pop-up from your operating system for new notifications, also while this tab is in the background. This applies to this browser only.';
  }
}
