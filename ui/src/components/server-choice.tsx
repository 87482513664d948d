//! Desktop only: which server the app talks to. "Connect to a server" takes
//! an address (then the admin signs in); "Run a Belfry server on this
//! computer" starts the bundled one, optionally with demo events, and signs
//! in by itself. Shared by the login screen and the desktop settings.

import { useState } from 'react';
import type { DesktopControls } from '../platform';
import { ApiError } from '../platform';

export function ServerChoice({ desktop, serverLabel }: { desktop: DesktopControls; serverLabel: string }) {
  const [url, setUrl] = useState(desktop.mode === 'remote' ? serverLabel : '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e instanceof ApiError || e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="server-choice" aria-label="Server">
      <label className="field">
        <span>Server address</span>
        <span className="row">
          <input
            className="input"
            type="url"
            name="server"
            data-testid="server-url"
            placeholder="https://belfry.yourshop.example"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
          <button
            type="button"
            className="btn"
            data-testid="use-server"
            disabled={busy || url.trim() === ''}
            onClick={() => void run(() => desktop.useServer(url))}
          >
            Connect
          </button>
        </span>
      </label>
      <div className="row row--wrap">
        <button type="button" className="btn" data-testid="use-bundled" disabled={busy} onClick={() => void run(() => desktop.useBundled(false))}>
          Run a Belfry server on this computer
        </button>
        <button type="button" className="btn" data-testid="use-demo" disabled={busy} onClick={() => void run(() => desktop.useBundled(true))}>
          Try it with demo events
        </button>
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
