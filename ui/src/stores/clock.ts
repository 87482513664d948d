//! One shared ticking clock so every relative time updates together,
//! with a single interval however many rows are on screen.

import { useSyncExternalStore } from 'react';

const PERIOD_MS = 20_000;
let now = Date.now();
const listeners = new Set<() => void>();
let handle: ReturnType<typeof setInterval> | null = null;

function subscribe(l: () => void) {
  listeners.add(l);
  if (!handle) {
    // The first subscriber after an idle spell must not see a stale time.
    now = Date.now();
    handle = setInterval(() => {
      now = Date.now();
      for (const x of listeners) x();
    }, PERIOD_MS);
  }
  return () => {
    listeners.delete(l);
    if (listeners.size === 0 && handle) {
      clearInterval(handle);
      handle = null;
    }
  };
}

export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now);
}
