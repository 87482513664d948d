//! Reconnect delays: full-jitter exponential backoff, the same rule as the
//! Rust client. Full jitter spreads a fleet of clients over the whole window
//! so a server restart is not followed by a synchronized reconnect storm.

/** Default base delay; the server's `retry:` field replaces it. */
export const DEFAULT_BASE_MS = 500;
/** Upper bound on one wait: an admin should never wait more than half a minute. */
export const DEFAULT_CAP_MS = 30_000;
/** A connection live this long counts as healthy: the next failure starts over at attempt 1. */
export const HEALTHY_AFTER_MS = 30_000;

export class Backoff {
  private attempt = 0;

  constructor(
    private baseMs: number = DEFAULT_BASE_MS,
    private readonly capMs: number = DEFAULT_CAP_MS,
    private readonly random: () => number = Math.random,
  ) {}

  /** Number of failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  setBase(ms: number): void {
    if (Number.isFinite(ms) && ms > 0) this.baseMs = ms;
  }

  /** The ceiling of the next wait, before jitter. */
  ceiling(): number {
    return Math.min(this.capMs, this.baseMs * 2 ** this.attempt);
  }

  /** Delay before the next attempt; counts the attempt. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling());
    this.attempt += 1;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
