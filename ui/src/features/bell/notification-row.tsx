//! One notification in the dropdown: severity colour and icon, title, two
//! lines of body, relative time and who handled it. Publisher text is only
//! ever rendered as React text nodes.

import { AckLine } from '../../components/ack-line';
import { SEVERITY_LABEL, SeverityIcon } from '../../components/icons';
import { RelativeTime } from '../../components/relative-time';
import type { InboxItem } from '../../lib/types';

export function NotificationRow({ item, onOpen }: { item: InboxItem; onOpen: (item: InboxItem) => void }) {
  return (
    <li>
      <button
        type="button"
        className={`nrow sev-${item.severity}${item.read ? '' : ' is-unread'}`}
        data-testid="notification-row"
        data-id={item.id}
        data-read={item.read}
        onClick={() => onOpen(item)}
      >
        <span className="nrow__icon" title={SEVERITY_LABEL[item.severity]}>
          <SeverityIcon severity={item.severity} size={16} />
          <span className="sr-only">{SEVERITY_LABEL[item.severity]}</span>
        </span>
        <span className="nrow__main">
          <span className="nrow__top">
            <span className="nrow__title" data-testid="notification-title">
              {item.title}
            </span>
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
