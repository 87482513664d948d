//! The inbox: unread summary, filters (severity, kind, unread only), an
//! infinitely scrolling list and the detail of the selected notification.

import { useEffect, useRef, useState } from 'react';
import { AckLine } from '../../components/ack-line';
import { InboxIcon, SEVERITY_LABEL, SeverityIcon } from '../../components/icons';
import { RelativeTime } from '../../components/relative-time';
import { KNOWN_KINDS, SEVERITIES, type InboxItem, type Severity } from '../../lib/types';
import { navigate, useApp } from '../../stores/app-context';
import { useStore } from '../../stores/create-store';
import { DetailPanel } from './detail-panel';

export function InboxPage({ selectedId }: { selectedId: number | null }) {
  const app = useApp();
  const state = useStore(app.inbox.store, (s) => s);
  const recent = useStore(app.notifications.store, (s) => s.items);
  const sentinel = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!app.inbox.store.get().loaded && !app.inbox.store.get().loading) void app.inbox.loadMore();
  }, [app]);

  useEffect(() => {
    const el = sentinel.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void app.inbox.loadMore();
    });
    io.observe(el);
    return () => io.disconnect();
  }, [app, state.items.length]);

  const selected =
    selectedId === null
      ? undefined
      : (state.items.find((x) => x.id === selectedId) ??
        recent.find((x) => x.id === selectedId) ??
        (state.extra?.id === selectedId ? state.extra : undefined));
  const [missing, setMissing] = useState<number | null>(null);

  // A deep link to a notification outside the loaded pages fetches just that one.
  useEffect(() => {
    if (selectedId === null || selected || !state.loaded) return;
    let live = true;
    void app.inbox.loadOne(selectedId).then((found) => {
      if (live && !found) setMissing(selectedId);
    });
    return () => {
      live = false;
    };
  }, [app, selectedId, selected, state.loaded]);

  // Opening a notification marks it read once; "Mark unread" afterwards sticks.
  const autoRead = useRef<number | null>(null);
  useEffect(() => {
    if (!selected || autoRead.current === selected.id) return;
    autoRead.current = selected.id;
    if (!selected.read) void app.markRead(selected.id).catch(() => undefined);
  }, [app, selected]);

  const kinds = [...new Set([...KNOWN_KINDS, ...recent.map((x) => x.kind), ...(state.filters.kind ? [state.filters.kind] : [])])].sort();

  return (
    <div className={`inbox${selectedId !== null ? ' has-selection' : ''}`}>
      <Summary />
      <div className="inbox__body">
        <section className="inbox__list card" aria-label="Inbox">
          <div className="toolbar" role="toolbar" aria-label="Filters">
            <label className="field field--inline">
              <span>Severity</span>
              <select
                className="select"
                data-testid="filter-severity"
                value={state.filters.minSeverity ?? ''}
                onChange={(e) => app.inbox.setFilters({ ...state.filters, minSeverity: (e.target.value || null) as Severity | null })}
              >
                <option value="">All</option>
                {SEVERITIES.map((s) => (
                  <option key={s} value={s}>
                    {s === 'critical' ? 'Critical' : `${SEVERITY_LABEL[s]} and above`}
                  </option>
                ))}
              </select>
            </label>
            <label className="field field--inline">
              <span>Kind</span>
              <select
                className="select"
                data-testid="filter-kind"
                value={state.filters.kind ?? ''}
                onChange={(e) => app.inbox.setFilters({ ...state.filters, kind: e.target.value || null })}
              >
                <option value="">All kinds</option>
                {kinds.map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
              </select>
            </label>
            <label className="switch">
              <input
                type="checkbox"
                data-testid="filter-unread"
                checked={state.filters.unreadOnly}
                onChange={(e) => app.inbox.setFilters({ ...state.filters, unreadOnly: e.target.checked })}
              />
              <span className="switch__track" aria-hidden="true" />
              <span>Unread only</span>
            </label>
          </div>
          {state.loaded && state.items.length === 0 ? (
            <div className="panel__empty">
              <div className="empty-orb" aria-hidden="true">
                <InboxIcon size={22} />
              </div>
              <p className="empty-title">Nothing here</p>
              <p className="empty-sub">No notifications match these filters.</p>
            </div>
          ) : (
            <ul className="inbox__rows" data-testid="inbox-list">
              {state.items.map((item) => (
                <InboxRow key={item.id} item={item} selected={item.id === selectedId} />
              ))}
            </ul>
          )}
          <div ref={sentinel} className="inbox__sentinel" data-testid="inbox-sentinel">
            {state.loading && <span className="spinner" aria-label="Loading" />}
            {state.error && (
              <p className="form-error" role="alert">
                Could not load notifications: {state.error}{' '}
                <button type="button" className="btn btn--link" onClick={() => void app.inbox.loadMore()}>
                  Retry
                </button>
              </p>
            )}
            {!state.loading && !state.done && state.loaded && (
              <button type="button" className="btn btn--ghost btn--sm" onClick={() => void app.inbox.loadMore()}>
                Load more
              </button>
            )}
            {state.capped && <p className="muted">Showing the newest {state.items.length}. Narrow the filters to see older ones.</p>}
            {state.done && !state.capped && state.items.length > 0 && <p className="muted">That’s everything.</p>}
          </div>
        </section>
        <section className="inbox__detail card" aria-label="Detail">
          {selected ? (
            <DetailPanel item={selected} />
          ) : (
            <div className="panel__empty">
              <div className="empty-orb" aria-hidden="true">
                <InboxIcon size={22} />
              </div>
              <p className="empty-title">
                {selectedId === null ? 'Select a notification' : missing === selectedId ? 'Not found' : 'Loading…'}
              </p>
              <p className="empty-sub">
                {selectedId === null
                  ? 'Its details, data and link appear here.'
                  : missing === selectedId
                    ? 'This notification does not exist or is no longer kept.'
                    : 'Fetching this notification.'}
              </p>
            </div>
          )}
        </section>
      </div>
    </div>
  );
}

function InboxRow({ item, selected }: { item: InboxItem; selected: boolean }) {
  return (
    <li>
      <button
        type="button"
        className={`irow sev-${item.severity}${item.read ? '' : ' is-unread'}${selected ? ' is-selected' : ''}`}
        data-testid="inbox-row"
        data-id={item.id}
        data-read={item.read}
        aria-current={selected ? 'true' : undefined}
        onClick={() => navigate(`/inbox/${item.id}`)}
      >
        <span className="nrow__icon">
          <SeverityIcon severity={item.severity} size={16} />
        </span>
        <span className="nrow__main">
          <span className="nrow__top">
            <span className="nrow__title">{item.title}</span>
            <span className="nrow__time">
              <RelativeTime value={item.created_at} />
            </span>
          </span>
          {item.body && <span className="nrow__body">{item.body}</span>}
          <span className="nrow__meta">
            <span className="kind-chip">{item.kind}</span>
            {item.ack && <AckLine ack={item.ack} compact />}
          </span>
        </span>
        {!item.read && (
          <span className="nrow__dot">
            <span className="sr-only">Unread</span>
          </span>
        )}
      </button>
    </li>
  );
}

/** Unread counts per severity; a card filters the list to unread of that severity. */
function Summary() {
  const app = useApp();
  const unread = useStore(app.notifications.store, (s) => s.unread);
  const filters = useStore(app.inbox.store, (s) => s.filters);
  const cards: { key: Severity | 'total'; label: string }[] = [
    { key: 'total', label: 'Unread' },
    { key: 'critical', label: 'Critical' },
    { key: 'warning', label: 'Warnings' },
    { key: 'info', label: 'Info' },
  ];
  return (
    <div className="summary" data-testid="summary">
      {cards.map((c) => (
        <button
          type="button"
          key={c.key}
          className={`stat stat--${c.key}${unread[c.key] > 0 ? ' is-active' : ''}`}
          data-testid={`stat-${c.key}`}
          aria-label={`${unread[c.key]} unread ${c.key === 'total' ? 'in all' : c.label.toLowerCase()}: show them`}
          onClick={() => {
            navigate('/inbox');
            app.inbox.setFilters({ ...filters, unreadOnly: true, minSeverity: c.key === 'total' ? null : c.key });
          }}
        >
          <span className="stat__label">
            {c.key !== 'total' && <SeverityIcon severity={c.key} size={14} />}
            {c.label}
          </span>
          <span className="stat__value">{unread[c.key]}</span>
        </button>
      ))}
    </div>
  );
}
