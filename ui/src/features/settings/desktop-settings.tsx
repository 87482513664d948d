//! Desktop only: where the app connects (a server elsewhere, or one on this
//! computer, with or without demo events), start at login, and where the
//! sign-in is kept.

import { useEffect, useState } from 'react';
import { ServerChoice } from '../../components/server-choice';
import type { DesktopControls } from '../../platform';

export function DesktopSettings({ desktop, serverLabel }: { desktop: DesktopControls; serverLabel: string }) {
  const [autostart, setAutostart] = useState<boolean | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    desktop.autostart().then(setAutostart, () => setAutostart(null));
  }, [desktop]);

  const toggle = async (enabled: boolean) => {
    setError(null);
    try {
      setAutostart(await desktop.autostart(enabled));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <div className="desktop-settings">
      <div className="kv">
        <span>Connection</span>
        <strong data-testid="server-mode">
          {desktop.mode === 'bundled'
            ? `Belfry server on this computer${desktop.demo ? ', with demo events' : ''}`
            : 'Belfry server elsewhere'}
        </strong>
      </div>
      {desktop.credentials === 'memory' && desktop.mode === 'remote' && (
        <p className="form-note" role="status">
          No OS keyring is available, so the sign-in lasts until Belfry quits.
        </p>
      )}
      <details>
        <summary>Change server</summary>
        <ServerChoice desktop={desktop} serverLabel={serverLabel} />
      </details>
      <label className="switch">
        <input
          type="checkbox"
          data-testid="autostart"
          disabled={autostart === null}
          checked={autostart ?? false}
          onChange={(e) => void toggle(e.target.checked)}
        />
        <span className="switch__track" aria-hidden="true" />
        <span>Start Belfry when I log in</span>
      </label>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
