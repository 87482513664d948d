//! Settings: server and account, pop-up threshold, muted kinds, quiet hours,
//! sounds per severity; desktop notifications where the page raises them
//! (browser mode); the server's outbound channels, with a test message each.
//! Desktop-only controls (test notifications, bundled server) appear only
//! when the platform has them.

import { useEffect, useState } from 'react';
import { SEVERITY_LABEL } from '../../components/icons';
import { KNOWN_KINDS, SEVERITIES, type Preferences, type Severity } from '../../lib/types';
import { ApiError } from '../../platform';
import { useApp } from '../../stores/app-context';
import { useStore } from '../../stores/create-store';
import { ChannelsSection } from './channels-section';
import { DesktopSettings } from './desktop-settings';
import { OsNotificationsSection } from './os-notifications-section';

const MUTE_DURATIONS: [string, number][] = [
  ['Until unmuted', 0],
  ['For 1 hour', 1],
  ['For 8 hours', 8],
  ['For a day', 24],
  ['For a week', 168],
];

export function SettingsPage() {
  const app = useApp();
  const session = useStore(app.session, (s) => s);
  const current = useStore(app.notifications.store, (s) => s.preferences);
  const [draft, setDraft] = useState<Preferences>(current);
  const [dirty, setDirty] = useState(false);
  const [saving, setSaving] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [newKind, setNewKind] = useState('');
  const [muteFor, setMuteFor] = useState(0);

  useEffect(() => {
    if (!dirty) setDraft(current);
  }, [current, dirty]);

  const edit = (f: (p: Preferences) => Preferences) => {
    setDraft((d) => f(d));
    setDirty(true);
    setMessage(null);
  };

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    setSaving(true);
    try {
      await app.savePreferences(draft);
      setDirty(false);
      setMessage({ ok: true, text: 'Saved. Your other devices update too.' });
    } catch (err) {
      const field = err instanceof ApiError && err.field ? ` (${err.field})` : '';
      setMessage({ ok: false, text: `${err instanceof Error ? err.message : String(err)}${field}` });
    } finally {
      setSaving(false);
    }
  };

  const caps = app.platform.capabilities;
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;

  return (
    <div className="settings">
      <section className="card settings__section" aria-labelledby="acct">
        <h2 id="acct" className="section-title">Server and account</h2>
        <div className="kv">
          <span>Server</span>
          <strong>{app.platform.serverLabel}</strong>
        </div>
        <div className="kv">
          <span>Signed in as</span>
          <strong data-testid="account-email">{session?.email}</strong>
        </div>
        <button type="button" className="btn" data-testid="sign-out" onClick={() => void app.signOut()}>
          Sign out
        </button>
        {caps.bundledServer && app.platform.desktop && (
          <DesktopSettings desktop={app.platform.desktop} serverLabel={app.platform.serverLabel} />
        )}
      </section>

      {app.platform.osNotifications && !caps.desktop && <OsNotificationsSection os={app.platform.osNotifications} />}

      <form className="card settings__section" onSubmit={(e) => void save(e)} aria-labelledby="alerts">
        <h2 id="alerts" className="section-title">Alerts</h2>

        <label className="field">
          <span>Pop up notifications of at least</span>
          <select
            className="select"
            data-testid="popup-threshold"
            value={draft.popup_min_severity}
            onChange={(e) => edit((p) => ({ ...p, popup_min_severity: e.target.value as Severity }))}
          >
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {SEVERITY_LABEL[s]}
              </option>
            ))}
          </select>
        </label>

        <label className="field">
          <span>Alert again about unacknowledged critical notifications every</span>
          <span className="row">
            <input
              className="input input--narrow"
              type="number"
              min={0}
              max={1440}
              data-testid="realert-minutes"
              value={draft.realert_minutes}
              onChange={(e) => edit((p) => ({ ...p, realert_minutes: Math.max(0, Math.min(1440, Number(e.target.value) || 0)) }))}
            />
            <span className="muted">minutes (0 = never)</span>
          </span>
        </label>

        <fieldset className="fieldset">
          <legend>Muted kinds</legend>
          {draft.muted_kinds.length === 0 && <p className="muted">Nothing muted.</p>}
          <ul className="chips">
            {draft.muted_kinds.map((m) => (
              <li key={m.kind} className="chip" data-testid="muted-kind">
                {m.kind}
                {m.until && <span className="muted"> until {new Date(m.until).toLocaleString()}</span>}
                <button
                  type="button"
                  className="icon-btn"
                  aria-label={`Unmute ${m.kind}`}
                  onClick={() => edit((p) => ({ ...p, muted_kinds: p.muted_kinds.filter((x) => x.kind !== m.kind) }))}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
          <div className="row">
            <input
              className="input"
              list="kind-list"
              placeholder="kind, e.g. order.created"
              aria-label="Kind to mute"
              value={newKind}
              onChange={(e) => setNewKind(e.target.value.trim())}
            />
            <datalist id="kind-list">
              {KNOWN_KINDS.map((k) => (
                <option key={k} value={k} />
              ))}
            </datalist>
            <select className="select" aria-label="Mute for" value={muteFor} onChange={(e) => setMuteFor(Number(e.target.value))}>
              {MUTE_DURATIONS.map(([label, hours]) => (
                <option key={hours} value={hours}>
                  {label}
                </option>
              ))}
            </select>
            <button
              type="button"
              className="btn"
              disabled={!newKind || draft.muted_kinds.some((m) => m.kind === newKind)}
              onClick={() => {
                const until = muteFor > 0 ? new Date(Date.now() + muteFor * 3_600_000).toISOString() : null;
                edit((p) => ({ ...p, muted_kinds: [...p.muted_kinds, { kind: newKind, until }] }));
                setNewKind('');
              }}
            >
              Mute
            </button>
          </div>
        </fieldset>

        <fieldset className="fieldset">
          <legend>Quiet hours</legend>
          <label className="switch">
            <input
              type="checkbox"
              data-testid="quiet-hours"
              checked={draft.quiet_hours !== null}
              onChange={(e) =>
                edit((p) => ({
                  ...p,
                  quiet_hours: e.target.checked ? { start: '22:00', end: '07:00', time_zone: tz, critical_breaks_through: true } : null,
                }))
              }
            />
            <span className="switch__track" aria-hidden="true" />
            <span>No pop-ups during quiet hours</span>
          </label>
          {draft.quiet_hours && (
            <div className="row row--wrap">
              <label className="field field--inline">
                <span>From</span>
                <input
                  className="input"
                  type="time"
                  value={draft.quiet_hours.start}
                  onChange={(e) => edit((p) => ({ ...p, quiet_hours: p.quiet_hours && { ...p.quiet_hours, start: e.target.value } }))}
                />
              </label>
              <label className="field field--inline">
                <span>To</span>
                <input
                  className="input"
                  type="time"
                  value={draft.quiet_hours.end}
                  onChange={(e) => edit((p) => ({ ...p, quiet_hours: p.quiet_hours && { ...p.quiet_hours, end: e.target.value } }))}
                />
              </label>
              <label className="field field--inline">
                <span>Time zone</span>
                <input
                  className="input"
                  value={draft.quiet_hours.time_zone}
                  onChange={(e) => edit((p) => ({ ...p, quiet_hours: p.quiet_hours && { ...p.quiet_hours, time_zone: e.target.value } }))}
                />
              </label>
              <label className="switch">
                <input
                  type="checkbox"
                  checked={draft.quiet_hours.critical_breaks_through}
                  onChange={(e) =>
                    edit((p) => ({ ...p, quiet_hours: p.quiet_hours && { ...p.quiet_hours, critical_breaks_through: e.target.checked } }))
                  }
                />
                <span className="switch__track" aria-hidden="true" />
                <span>Critical alerts break through</span>
              </label>
            </div>
          )}
        </fieldset>

        <fieldset className="fieldset">
          <legend>Sounds</legend>
          <div className="row row--wrap">
            {SEVERITIES.map((s) => (
              <label key={s} className="switch">
                <input
                  type="checkbox"
                  data-testid={`sound-${s}`}
                  checked={draft.sounds[s]}
                  onChange={(e) => edit((p) => ({ ...p, sounds: { ...p.sounds, [s]: e.target.checked } }))}
                />
                <span className="switch__track" aria-hidden="true" />
                <span>{SEVERITY_LABEL[s]}</span>
              </label>
            ))}
          </div>
          {caps.testNotifications && (
            <div className="row">
              {SEVERITIES.map((s) => (
                <button
                  key={s}
                  type="button"
                  className="btn btn--sm"
                  data-testid={`test-notification-${s}`}
                  onClick={() => void (app.platform.desktop?.testNotification(s) ?? app.platform.playSound(s))}
                >
                  Test {SEVERITY_LABEL[s].toLowerCase()}
                </button>
              ))}
            </div>
          )}
        </fieldset>

        <div className="row">
          <button type="submit" className="btn btn--primary" data-testid="save-preferences" disabled={!dirty || saving}>
            {saving ? 'Saving…' : 'Save changes'}
          </button>
          {message && (
            <p className={message.ok ? 'form-ok' : 'form-error'} role={message.ok ? 'status' : 'alert'}>
              {message.text}
            </p>
          )}
        </div>
      </form>

      <ChannelsSection platform={app.platform} />
    </div>
  );
}
