//! A relative time that updates with the shared clock.

import { absoluteTime, relativeTime } from '../lib/relative-time';
import { useNow } from '../stores/clock';

export function RelativeTime({ value }: { value: string }) {
  const now = useNow();
  return (
    <time dateTime={value} title={absoluteTime(value)}>
      {relativeTime(value, now)}
    </time>
  );
}
