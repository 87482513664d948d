import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { NotificationRow } from './notification-row';
import { connectionLabel } from './connection-indicator';

afterEach(cleanup);

describe('notification row', () => {
  it('shows publisher markup as text, never as HTML', () => {
    const evil = '<img src=x onerror="alert(1)">';
    const { container } = render(
      <ul>
        <NotificationRow
          item={{
            id: 1,
            kind: 'system.error',
            severity: 'critical',
            title: evil,
            body: '<script>alert(2)</script><b>bold</b>',
            link: null,
            data: null,
            created_at: new Date().toISOString(),
            read: false,
            ack: { by: { sub: 'x', email: '<i>eve</i>@x' }, at: new Date().toISOString(), note: null },
          }}
          onOpen={() => undefined}
        />
      </ul>,
    );
    expect(screen.getByTestId('notification-title').textContent).toBe(evil);
    expect(container.querySelector('img, script, b, i')).toBeNull();
    expect(container.textContent).toContain('<script>alert(2)</script><b>bold</b>');
    expect(screen.getByTestId('ack-line').textContent).toContain('Handled by <i>eve</i>@x');
  });
});

describe('connection label', () => {
  it('counts down the reconnect and names the attempt', () => {
    const now = 1_000_000;
    expect(connectionLabel({ state: 'live', since: now }, now).label).toBe('Live');
    expect(connectionLabel({ state: 'reconnecting', retryAt: now + 4_200, attempt: 3, reason: 'closed' }, now)).toEqual({
      label: 'Reconnecting in 5s (attempt 3)',
      detail: 'closed',
    });
    expect(connectionLabel({ state: 'reconnecting', retryAt: now - 1, attempt: 3, reason: 'x' }, now).label).toBe('Reconnecting… (attempt 3)');
    expect(connectionLabel({ state: 'offline', reason: 'This device is offline.' }, now).label).toBe('Offline');
    expect(connectionLabel({ state: 'signed-out', reason: 'r' }, now).label).toBe('Sign-in needed');
  });
});
