//! A short, synthesized chime per severity (no audio files to fetch). Browsers
//! may block audio until the page has been interacted with; that is fine.

const TONES: Record<string, number[]> = { info: [660], warning: [660, 880], critical: [880, 660, 880] };

/** A burst of notifications makes one chime, not a din. */
const MIN_GAP_MS = 1_500;

let ctx: AudioContext | null = null;
let last = 0;

export function beep(severity: string): void {
  const now = Date.now();
  if (now - last < MIN_GAP_MS) return;
  last = now;
  try {
    ctx ??= new AudioContext();
    const tones = TONES[severity] ?? [660];
    tones.forEach((freq, i) => {
      const c = ctx as AudioContext;
      const osc = c.createOscillator();
      const gain = c.createGain();
      const t = c.currentTime + i * 0.16;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.08, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.14);
      osc.connect(gain).connect(c.destination);
      osc.start(t);
      osc.stop(t + 0.15);
    });
  } catch {
    // No audio available.
  }
}
