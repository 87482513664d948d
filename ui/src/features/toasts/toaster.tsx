//! Toasts, top-right: at most three visible plus a "+N more" chip. Critical
//! toasts are announced assertively and stay until dismissed or acknowledged;
//! the rest politely, for five seconds (paused on hover and while hidden).

import { useEffect } from 'react';
import { CloseIcon, InboxIcon, SEVERITY_LABEL, SeverityIcon } from '../../components/icons';
import { navigate, useApp } from '../../stores/app-context';
import { useStore } from '../../stores/create-store';
import { MAX_VISIBLE, type Toast } from '../../stores/toast-store';

export function Toaster() {
  const { toasts } = useApp();
  const all = useStore(toasts.store, (s) => s.toasts);

  useEffect(() => {
    const onVis = () => toasts.setHidden(document.visibilityState === 'hidden');
    onVis();
    document.addEventListener('visibilitychange', onVis);
    return () => document.removeEventListener('visibilitychange', onVis);
  }, [toasts]);

  const visible = all.slice(0, MAX_VISIBLE);
  const more = all.length - visible.length;
  const isCritical = (t: Toast) => t.notification?.severity === 'critical' || (t.notification === null && t.criticalCount > 0);

  return (
    <div
      className="toaster"
      data-testid="toaster"
      onMouseEnter={() => toasts.setPaused(true)}
      onMouseLeave={() => toasts.setPaused(false)}
      onFocus={() => toasts.setPaused(true)}
      onBlur={() => toasts.setPaused(false)}
    >
      <section aria-live="assertive" aria-label="Critical alerts" className="toaster__region">
        {visible.filter(isCritical).map((t) => (
          <ToastCard key={t.key} toast={t} />
        ))}
      </section>
      <section aria-live="polite" aria-label="Notifications" className="toaster__region">
        {visible
          .filter((t) => !isCritical(t))
          .map((t) => (
            <ToastCard key={t.key} toast={t} />
          ))}
      </section>
      {more > 0 && (
        <button type="button" className="toast-more" data-testid="toast-more" onClick={() => navigate('/inbox')}>
          +{more} more
        </button>
      )}
    </div>
  );
}

function ToastCard({ toast }: { toast: Toast }) {
  const app = useApp();
  const n = toast.notification;
  if (!n) {
    const sev = toast.criticalCount > 0 ? 'critical' : 'info';
    return (
      <div className={`toast sev-${sev}`} data-testid="toast" data-kind="summary" role="group" aria-label="Missed notifications">
        <span className="toast__icon">
          <InboxIcon size={18} />
        </span>
        <div className="toast__main">
          <p className="toast__title">
            {toast.count} notification{toast.count === 1 ? '' : 's'} arrived while you were away
          </p>
          <p className="toast__body">
            {toast.criticalCount > 0 ? `${toast.criticalCount} critical. ` : ''}They are in your inbox.
          </p>
          <div className="toast__actions">
            <button
              type="button"
              className="btn btn--sm"
              onClick={() => {
                app.toasts.dismiss(toast.key);
                navigate('/inbox');
              }}
            >
              Open inbox
            </button>
          </div>
        </div>
        <button type="button" className="icon-btn toast__close" aria-label="Dismiss" onClick={() => app.toasts.dismiss(toast.key)}>
          <CloseIcon size={14} />
        </button>
      </div>
    );
  }
  const open = () => {
    void app.markRead(n.id).catch(() => undefined);
    app.toasts.dismiss(toast.key);
    navigate(`/inbox/${n.id}`);
  };
  return (
    <div
      className={`toast sev-${n.severity}`}
      data-testid="toast"
      data-id={n.id}
      data-severity={n.severity}
      role="group"
      aria-label={`${SEVERITY_LABEL[n.severity]}: ${n.title}`}
    >
      <span className="toast__icon">
        <SeverityIcon severity={n.severity} size={18} />
      </span>
      <div className="toast__main">
        <button type="button" className="toast__open" onClick={open}>
          <span className="toast__eyebrow">
            {SEVERITY_LABEL[n.severity]} · {n.kind}
          </span>
          <span className="toast__title">{n.title}</span>
          {n.body && <span className="toast__body">{n.body}</span>}
        </button>
        {n.severity === 'critical' && (
          <div className="toast__actions">
            <button type="button" className="btn btn--sm btn--primary" onClick={() => void app.ack(n.id).catch(() => undefined)}>
              Acknowledge
            </button>
            <button type="button" className="btn btn--sm btn--ghost" onClick={open}>
              Details
            </button>
          </div>
        )}
      </div>
      <button type="button" className="icon-btn toast__close" aria-label="Dismiss" onClick={() => app.toasts.dismiss(toast.key)}>
        <CloseIcon size={14} />
      </button>
    </div>
  );
}
