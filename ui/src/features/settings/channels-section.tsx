//! Settings section for the server's outbound channels (Slack, Discord,
//! Teams, email, SMS, signed webhooks): which are configured, and a test
//! message through each, so an admin can check that Belfry reaches the team
//! outside this window before it has to. Channels are declared by the
//! operator in belfry.toml; this page never sees their secrets.

import { useEffect, useState } from 'react';
import type { ChannelInfo, ChannelTestResult } from '../../lib/types';
import type { Platform } from '../../platform';

type Load = { state: 'loading' } | { state: 'failed'; message: string } | { state: 'ready'; channels: ChannelInfo[] };

/** What the last test of a channel said, or that it is running. */
type Tested = { running: true } | { running: false; result: ChannelTestResult } | { running: false; error: string };

const OUTCOME_TEXT: Record<ChannelTestResult['outcome'], string> = {
  delivered: 'Delivered',
  retry: 'Not delivered; a real alert would be retried',
  failed: 'Refused; check the channel’s URL and secret',
};

export function ChannelsSection({ platform }: { platform: Platform }) {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [tested, setTested] = useState<Record<string, Tested>>({});

  useEffect(() => {
    let live = true;
    platform
      .listChannels()
      .then((list) => live && setLoad({ state: 'ready', channels: list.channels }))
      .catch((e: unknown) => live && setLoad({ state: 'failed', message: e instanceof Error ? e.message : String(e) }));
    return () => {
      live = false;
    };
  }, [platform]);

  const test = async (name: string) => {
    setTested((t) => ({ ...t, [name]: { running: true } }));
    let outcome: Tested;
    try {
      outcome = { running: false, result: await platform.testChannel(name, 'warning') };
    } catch (e) {
      outcome = { running: false, error: e instanceof Error ? e.message : String(e) };
    }
    setTested((t) => ({ ...t, [name]: outcome }));
  };

  return (
    <section className="card settings__section" aria-labelledby="channels" data-testid="channels">
      <h2 id="channels" className="section-title">
        Channels
      </h2>
      {load.state === 'loading' && <p className="muted">Loading…</p>}
      {load.state === 'failed' && (
        <p className="form-error" role="alert">
          Could not load the channels: {load.message}
        </p>
      )}
      {load.state === 'ready' && load.channels.length === 0 && (
        <p className="muted" data-testid="channels-none">
          No channels are configured, so alerts reach only Belfry windows. An operator adds Slack, Discord, Teams, email, SMS
          or webhooks in the server’s configuration file (see “Channels” in the operations guide).
        </p>
      )}
      {load.state === 'ready' && load.channels.length > 0 && (
        <ul className="channel-list">
          {load.channels.map((c) => {
            const t = tested[c.name];
            return (
              <li key={c.name} className="channel" data-testid={`channel-${c.name}`}>
                <div className="channel__what">
                  <strong>{c.name}</strong> <span className="muted">{c.type}</span>
                  <div className="muted channel__target">{c.target}</div>
                </div>
                <button
                  type="button"
                  className="btn btn--sm"
                  data-testid={`channel-test-${c.name}`}
                  disabled={t?.running}
                  onClick={() => void test(c.name)}
                >
                  {t?.running ? 'Sending…' : 'Send a test message'}
                </button>
                {t && !t.running && (
                  <p
                    className={'result' in t && t.result.outcome === 'delivered' ? 'form-ok' : 'form-error'}
                    role="status"
                    data-testid={`channel-result-${c.name}`}
                  >
                    {'result' in t ? `${OUTCOME_TEXT[t.result.outcome]} (${t.result.detail})` : t.error}
                  </p>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
