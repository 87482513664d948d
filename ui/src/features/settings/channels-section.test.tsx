import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChannelList, ChannelTestResult } from '../../lib/types';
import { ApiError, type Platform } from '../../platform';
import { ChannelsSection } from './channels-section';

afterEach(cleanup);

function platform(list: ChannelList, test: (name: string) => Promise<ChannelTestResult>): Platform {
  return { listChannels: () => Promise.resolve(list), testChannel: vi.fn(test) } as unknown as Platform;
}

describe('channels section', () => {
  it('lists the channels and says how a test message went, for each one', async () => {
    const p = platform(
      {
        channels: [
          { name: 'ops-slack', type: 'slack', target: 'https://hooks.slack.com/…' },
          { name: 'erp', type: 'webhook', target: 'https://erp.example/hooks' },
        ],
      },
      (name) =>
        Promise.resolve(
          name === 'erp'
            ? { channel: name, outcome: 'failed', detail: 'answered 401 Unauthorized' }
            : { channel: name, outcome: 'delivered', detail: 'answered 200 OK' },
        ),
    );
    render(<ChannelsSection platform={p} />);
    expect(await screen.findByTestId('channel-ops-slack')).toHaveProperty('textContent', expect.stringContaining('slack'));
    fireEvent.click(screen.getByTestId('channel-test-ops-slack'));
    fireEvent.click(screen.getByTestId('channel-test-erp'));
    await waitFor(() => expect(screen.getByTestId('channel-result-ops-slack').textContent).toBe('Delivered (answered 200 OK)'));
    expect(screen.getByTestId('channel-result-ops-slack').className).toBe('form-ok');
    await waitFor(() => expect(screen.getByTestId('channel-result-erp').textContent).toContain('answered 401 Unauthorized'));
    expect(screen.getByTestId('channel-result-erp').className).toBe('form-error');
    expect(p.testChannel).toHaveBeenCalledWith('erp', 'warning');
  });

  it('says when no channel is configured, and when a test could not be asked for', async () => {
    render(<ChannelsSection platform={platform({ channels: [] }, () => Promise.reject(new Error('unused')))} />);
    expect((await screen.findByTestId('channels-none')).textContent).toContain('No channels are configured');
    cleanup();
    render(
      <ChannelsSection
        platform={platform({ channels: [{ name: 'sms', type: 'sms', target: '+1 via x' }] }, () =>
          Promise.reject(new ApiError('throttled', 'test messages are already being sent', 503, 'busy')),
        )}
      />,
    );
    fireEvent.click(await screen.findByTestId('channel-test-sms'));
    await waitFor(() => expect(screen.getByTestId('channel-result-sms').textContent).toBe('test messages are already being sent'));
  });
});
