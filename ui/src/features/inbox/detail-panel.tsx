//! A notification's detail: body, data fields, the link (http(s) only,
//! opened with noopener noreferrer), Acknowledge / Release and read state.

import { useState } from 'react';
import { ackName } from '../../components/ack-line';
import { ExternalIcon, SEVERITY_LABEL, SeverityIcon, ShieldIcon } from '../../components/icons';
import { RelativeTime } from '../../components/relative-time';
import { absoluteTime } from '../../lib/relative-time';
import { displayValue, safeHref } from '../../lib/safe-link';
import type { InboxItem } from '../../lib/types';
import { ApiError } from '../../platform';
import { navigate, useApp } from '../../stores/app-context';
import { useStore } from '../../stores/create-store';

export function DetailPanel({ item }: { item: InboxItem }) {
  const app = useApp();
  const session = useStore(app.session, (s) => s);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; canForce: boolean } | null>(null);
  const href = safeHref(item.link);
  const mine = item.ack !== null && session !== null && item.ack.by.email === session.email;
  const fields = Object.entries(item.data ?? {});

  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
      setNote('');
    } catch (e) {
      const conflict = e instanceof ApiError && e.kind === 'conflict';
      setError({ message: e instanceof Error ? e.message : String(e), canForce: conflict });
    } finally {
      setBusy(false);
    }
  };

  return (
    <article className={`detail sev-${item.severity}`} data-testid="notification-detail" data-id={item.id} aria-labelledby="detail-title">
      <button type="button" className="btn btn--link detail__back" onClick={() => navigate('/inbox')}>
        ← Back to inbox
      </button>
      <header className="detail__head">
        <span className="sev-pill">
          <SeverityIcon severity={item.severity} size={14} /> {SEVERITY_LABEL[item.severity]}
        </span>
        <span className="kind-chip">{item.kind}</span>
        <span className="detail__time" title={absoluteTime(item.created_at)}>
          <RelativeTime value={item.created_at} /> · #{item.id}
        </span>
      </header>
      <h2 id="detail-title" className="detail__title" data-testid="detail-title">
        {item.title}
      </h2>
      {item.body && <p className="detail__body">{item.body}</p>}
      {href && (
        <a className="btn btn--outline detail__link" href={href} target="_blank" rel="noopener noreferrer" data-testid="detail-link">
          Open in store admin <ExternalIcon size={14} />
        </a>
      )}
      {fields.length > 0 && (
        <dl className="fields" data-testid="detail-fields">
          {fields.map(([k, v]) => (
            <div key={k} className="fields__row">
              <dt>{k}</dt>
              <dd>{displayValue(v)}</dd>
            </div>
          ))}
        </dl>
      )}
      <section className="ack-box" aria-label="Handling">
        {item.ack ? (
          <div className="ack-box__state" data-testid="detail-ack">
            <ShieldIcon size={16} />
            <div>
              <p>
                Handled by <strong>{ackName(item.ack)}</strong> · <RelativeTime value={item.ack.at} />
              </p>
              {item.ack.note && <p className="ack-box__note">“{item.ack.note}”</p>}
            </div>
          </div>
        ) : (
          <p className="ack-box__state ack-box__state--open">Nobody is handling this yet.</p>
        )}
        <div className="ack-box__actions">
          {!item.ack && (
            <>
              <label className="sr-only" htmlFor="ack-note">
                Note (optional)
              </label>
              <input
                id="ack-note"
                className="input"
                placeholder="Add a note (optional)"
                maxLength={500}
                value={note}
                onChange={(e) => setNote(e.target.value)}
              />
              <button
                type="button"
                className="btn btn--primary"
                data-testid="ack-button"
                disabled={busy}
                onClick={() => void run(() => app.ack(item.id, note.trim() || undefined))}
              >
                Acknowledge
              </button>
            </>
          )}
          {item.ack && (
            <button
              type="button"
              className="btn"
              data-testid="release-button"
              disabled={busy}
              onClick={() => void run(() => app.release(item.id, !mine))}
            >
              {mine ? 'Release' : 'Take over (release)'}
            </button>
          )}
          <button
            type="button"
            className="btn btn--ghost"
            data-testid="toggle-read"
            disabled={busy}
            onClick={() => void run(() => (item.read ? app.markUnread(item.id) : app.markRead(item.id)))}
          >
            {item.read ? 'Mark unread' : 'Mark read'}
          </button>
        </div>
        {error && (
          <p className="form-error" role="alert">
            {error.message}
            {error.canForce && (
              <button type="button" className="btn btn--link" onClick={() => void run(() => app.ack(item.id, note.trim() || undefined, true))}>
                Take it over anyway
              </button>
            )}
          </p>
        )}
      </section>
    </article>
  );
}
