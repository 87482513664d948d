// The Tauri platform against Tauri's own IPC mock: commands, their errors
// and the core's events, without the app. (The real app is exercised end to
// end by src-tauri/tests/desktop_e2e/.)

import { emit } from '@tauri-apps/api/event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../errors';
import type { StreamEvent } from '../platform';
import { TauriPlatform, toApiError, type DesktopSession } from './tauri-platform';

const signedOut: DesktopSession = {
  email: null,
  server: 'https://belfry.shop.example',
  mode: 'remote',
  demo: false,
  reason: null,
  credentials: 'keyring',
};

afterEach(() => clearMocks());

describe('TauriPlatform', () => {
  it('learns the session at start and from the core, and reports changes once', async () => {
    mockIPC((cmd) => (cmd === 'session' ? signedOut : null), { shouldMockEvents: true });
    const p = new TauriPlatform();
    await p.init();
    expect(p.session()).toBeNull();
    expect(p.serverLabel).toBe('https://belfry.shop.example');
    const changes = vi.fn();
    p.onSessionChange(changes);
    await emit('belfry://session', { ...signedOut, mode: 'bundled', demo: true, email: 'desktop@belfry.local' });
    await vi.waitFor(() => expect(changes).toHaveBeenCalledWith({ email: 'desktop@belfry.local' }));
    await emit('belfry://session', { ...signedOut, mode: 'bundled', demo: true, email: 'desktop@belfry.local' });
    expect(changes).toHaveBeenCalledTimes(1);
    expect(p.desktop.mode).toBe('bundled');
    expect(p.desktop.demo).toBe(true);
  });

  it('passes commands their arguments and maps refusals to ApiError with the field', async () => {
    const calls: [string, unknown][] = [];
    mockIPC(
      (cmd, args) => {
        calls.push([cmd, args]);
        if (cmd === 'session') return signedOut;
        if (cmd === 'sign_in') throw { kind: 'invalid_credentials', message: 'wrong email or password', status: 401 };
        if (cmd === 'ack') throw { kind: 'validation', message: 'note: at most 500 characters' };
        if (cmd === 'history') throw { kind: 'validation', message: 'query.limit: between 1 and 200' };
        if (cmd === 'mark_read') return { total: 0, info: 0, warning: 0, critical: 0 };
        return null;
      },
      { shouldMockEvents: true },
    );
    const p = new TauriPlatform();
    await p.init();
    await expect(p.signIn('ann@shop.example', 'nope')).rejects.toMatchObject({ kind: 'invalid_credentials', status: 401 });
    const err = await p.ack(7, 'x'.repeat(600)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ kind: 'validation', field: 'note' });
    await expect(p.listNotifications({ limit: 500 })).rejects.toMatchObject({ field: 'query.limit' });
    expect(calls).toContainEqual(['history', { query: { limit: 500 } }]);
    await expect(p.markRead({ up_to: 9 })).resolves.toEqual({ total: 0, info: 0, warning: 0, critical: 0 });
    expect(calls).toContainEqual(['mark_read', { request: { up_to: 9 } }]);
    expect(calls).toContainEqual(['sign_in', { email: 'ann@shop.example', password: 'nope' }]);
    await p.testChannel('ops-slack', 'critical');
    expect(calls).toContainEqual(['test_channel', { name: 'ops-slack', severity: 'critical' }]);
  });

  it('forwards the core events to the stream and asks the core to repeat its state once listening', async () => {
    const attach = vi.fn();
    mockIPC(
      (cmd) => {
        if (cmd === 'session') return { ...signedOut, email: 'ann@shop.example' };
        if (cmd === 'attach') attach();
        return null;
      },
      { shouldMockEvents: true },
    );
    const p = new TauriPlatform();
    await p.init();
    const events: StreamEvent[] = [];
    const close = p.openStream((e) => events.push(e));
    await vi.waitFor(() => expect(attach).toHaveBeenCalledTimes(1));
    await emit('belfry://event', { type: 'status', status: { state: 'connecting' } });
    await vi.waitFor(() => expect(events).toEqual([{ type: 'status', status: { state: 'connecting' } }]));
    close();
    await emit('belfry://event', { type: 'reset', reason: 'gone' });
    expect(events).toHaveLength(1);
  });

  it('turns anything else the IPC throws into a server error', () => {
    expect(toApiError('boom')).toMatchObject({ kind: 'server', message: 'boom' });
  });
});
