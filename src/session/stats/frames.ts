// Display frames per second, counted from the display channel's 'draw' events at O(1) a draw.
//
// SPICE has no notion of a frame: a server sends draw messages as the guest draws, and one
// visible update (a clock tick, a scrolled terminal) is a burst of several. Here a frame is a
// 50 ms update batch: a draw starts a new frame when at least BATCH_MS (50 ms) passed since the
// first draw of the current frame; draws within those 50 ms belong to it. So a burst of draws
// counts once, however the network or the event loop split it (a gap-based rule would count a
// burst split by a 15 ms pause twice, making the number depend on the client's own scheduling),
// and the rate is at most 20 frames a second: updates less than 50 ms after a batch's start join
// it (30 fps video reads as 15, 60 fps as 20).
// fps = frames started per second over the last 3 whole seconds (the window of the byte rates).
import { DirectionStats } from './counters.js';

export const BATCH_MS = 50;

export class FrameCounter {
  /** draw messages (and stream frames) seen */
  draws = 0;
  /** frames (bursts of draws) seen */
  frames = 0;
  /** performance.now() of the first frame, for the session average */
  firstAt: number | null = null;
  lastAt: number | null = null;
  private frameStart = -Infinity;
  private readonly perSecond = new DirectionStats();

  constructor(private readonly batchMs = BATCH_MS) {}

  /** One draw; `now` is a monotonic ms clock, `wall` the epoch ms used for the per-second buckets. */
  draw(now = performance.now(), wall = Date.now()): void {
    this.draws++;
    if (now - this.frameStart >= this.batchMs) {
      this.frames++;
      this.frameStart = now;
      this.firstAt ??= now;
      this.lastAt = now;
      this.perSecond.add(1, 1, wall);
    }
  }

  /** Frames per second over the last `seconds` whole seconds. */
  fps(wall = Date.now(), seconds = 3): number {
    return this.perSecond.rate(seconds, wall);
  }

  /** Frames per second between the first frame and `now` (0 before two frames). */
  averageFps(now = performance.now()): number {
    if (this.firstAt === null || this.frames < 2) return 0;
    const span = (now - this.firstAt) / 1000;
    return span > 0 ? this.frames / span : 0;
  }
}
