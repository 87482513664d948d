//! The header bell, its unread badge and the dropdown panel (a focus-trapped
//! dialog: Tab cycles inside, Escape closes and returns focus to the bell).

import { useCallback, useEffect, useRef, useState } from 'react';
import { BellIcon, CheckIcon } from '../../components/icons';
import { badgeText } from '../../lib/badge';
import type { InboxItem } from '../../lib/types';
import { navigate, useApp } from '../../stores/app-context';
import { useStore } from '../../stores/create-store';
import { NotificationRow } from './notification-row';

const PANEL_ITEMS = 20;
const FOCUSABLE = 'button:not([disabled]), a[href], input, select, [tabindex]:not([tabindex="-1"])';

export function Bell() {
  const app = useApp();
  const unread = useStore(app.notifications.store, (s) => s.unread);
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const text = badgeText(unread.total);
  const close = useCallback((restoreFocus = true) => {
    setOpen(false);
    if (restoreFocus) button.current?.focus();
  }, []);

  return (
    <div className="bell">
      <button
        ref={button}
        type="button"
        className={`bell__button${open ? ' is-open' : ''}`}
        data-testid="bell"
        aria-label={`Notifications, ${unread.total} unread`}
        aria-haspopup="dialog"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
      >
        <BellIcon size={20} />
        {text && (
          <span
            className={`badge${unread.critical > 0 ? ' badge--critical' : ''}`}
            data-testid="unread-badge"
            data-critical={unread.critical > 0}
          >
            {text}
          </span>
        )}
      </button>
      {open && <Panel onClose={close} anchor={button} />}
    </div>
  );
}

function Panel({ onClose, anchor }: { onClose: (restoreFocus?: boolean) => void; anchor: React.RefObject<HTMLButtonElement | null> }) {
  const app = useApp();
  const items = useStore(app.notifications.store, (s) => s.items);
  const unread = useStore(app.notifications.store, (s) => s.unread.total);
  const panel = useRef<HTMLDivElement>(null);

  useEffect(() => {
    panel.current?.querySelector<HTMLElement>(FOCUSABLE)?.focus();
    const onDown = (e: MouseEvent) => {
      const t = e.target as Node;
      // A click elsewhere keeps focus where the admin clicked.
      if (!panel.current?.contains(t) && !anchor.current?.contains(t)) onClose(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => document.removeEventListener('mousedown', onDown);
  }, [onClose, anchor]);

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      onClose();
      return;
    }
    if (e.key !== 'Tab' || !panel.current) return;
    const nodes = [...panel.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    const first = nodes[0];
    const last = nodes[nodes.length - 1];
    if (!first || !last) return;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };

  const open = (item: InboxItem) => {
    void app.markRead(item.id).catch(() => undefined);
    onClose(false);
    navigate(`/inbox/${item.id}`);
  };

  const shown = items.slice(0, PANEL_ITEMS);
  return (
    <div
      ref={panel}
      className="panel"
      role="dialog"
      aria-modal="false"
      aria-label="Notifications"
      data-testid="notification-panel"
      onKeyDown={onKeyDown}
    >
      <div className="panel__head">
        <div>
          <h2 className="panel__title">Notifications</h2>
          <p className="panel__sub">{unread > 0 ? `${unread} unread` : 'All caught up'}</p>
        </div>
        <button
          type="button"
          className="btn btn--ghost btn--sm"
          data-testid="mark-all-read"
          disabled={unread === 0}
          onClick={() => void app.markAllRead().catch(() => undefined)}
        >
          <CheckIcon size={14} /> Mark all read
        </button>
      </div>
      {shown.length === 0 ? (
        <div className="panel__empty" data-testid="panel-empty">
          <div className="empty-orb" aria-hidden="true">
            <BellIcon size={22} />
          </div>
          <p className="empty-title">No notifications yet</p>
          <p className="empty-sub">New orders, payments and alerts appear here the moment they happen.</p>
        </div>
      ) : (
        <ul className="panel__list" aria-label="Recent notifications">
          {shown.map((item) => (
            <NotificationRow key={item.id} item={item} onOpen={open} />
          ))}
        </ul>
      )}
      <div className="panel__foot">
        <button
          type="button"
          className="btn btn--link"
          data-testid="view-all"
          onClick={() => {
            onClose(false);
            navigate('/inbox');
          }}
        >
          View all in inbox →
        </button>
      </div>
    </div>
  );
}
