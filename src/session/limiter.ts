import { SpiceError } from '../util/errors.js';

/**
 * A token bucket: `rate` bytes per second with a small burst. Spending may overdraw it; the
 * caller then waits `delayMs()` before the next spend, so the long-run rate is exact.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  readonly burst: number;

  constructor(readonly rate: number, burst?: number) {
    this.burst = burst ?? Math.max(1500, Math.round(rate / 10));
    this.tokens = this.burst;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  spend(bytes: number): void {
    this.refill();
    this.tokens -= bytes;
  }

  /** ms until the bucket is no longer overdrawn (0 = go now). */
  delayMs(): number {
    this.refill();
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }
}

/** "30KB/s", "1.5MB/s", "240kbit/s", "none" -> bytes per second (null = no limit). K = 1000. */
export function parseRate(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (t === 'none' || t === 'off' || t === '0') return null;
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|bit|kbit|mbit)?(?:\/s|ps)?$/.exec(t);
  if (!m) throw new SpiceError('usage', `"${text}" is not a rate: write e.g. 30KB/s, 1MB/s, 240kbit/s or none`);
  const n = Number(m[1]);
  const unit: Record<string, number> = { b: 1, kb: 1000, mb: 1e6, gb: 1e9, kib: 1024, mib: 1048576, bit: 1 / 8, kbit: 125, mbit: 125000 };
  const rate = n * unit[m[2] ?? 'b']!;
  if (rate < 100) throw new SpiceError('usage', `rate ${text} is below 100 bytes/s; nothing useful fits through that`);
  return rate;
}
