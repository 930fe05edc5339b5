// Frame sinks fed from a live display without ever holding up the channels: periodic numbered
// PNG screenshots and a terminal renderer (sixel or ANSI half blocks). Both run on their own
// timers, look at the primary surface only when its draw counter moved, and skip a tick whenever
// the previous frame is still being written (or the terminal has not drained): frames are
// dropped, never queued. PNG compression runs in zlib's thread pool.

import { mkdirSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Surface } from '../surface.js';
import { encodePngAsync } from './png.js';
import { renderAnsi, type AnsiColors } from './ansi.js';
import { renderSixel } from './sixel.js';


/** What the sink watches: the primary surface and a counter that changes whenever it is drawn. */
export type FrameSource = () => { surface: Surface | undefined; version: number };

export interface TerminalOutput {
  format: 'sixel' | 'ansi';
  /** where frames go (a TTY); write() returning false pauses rendering until 'drain' */
  out: NodeJS.WritableStream;
  cols: number;
  rows: number;
  /** pixel size of a cell, for sixel (default 10 x 20) */
  cellWidth?: number;
  cellHeight?: number;
  /** ANSI colours (default truecolor) */
  colors?: AnsiColors;
  /** shortest time between two frames, ms (default 200) */
  minIntervalMs?: number;
}

export interface FrameSinkOptions {
  source: FrameSource;
  /** write frame-NNNNNN.png into screenshotDir every screenshotEveryMs when the surface changed */
  screenshotEveryMs?: number;
  screenshotDir?: string;
  terminal?: TerminalOutput;
  /** called with errors of background writes (the sink stops writing PNGs after one) */
  onError?: (e: Error) => void;
}

export interface FrameSinkStats {
  /** PNGs written, ticks skipped because a write was still running, ticks with nothing new */
  screenshots: number; screenshotBusy: number; screenshotIdle: number;
  /** terminal frames written, ticks skipped because the terminal was still draining */
  renders: number; renderBusy: number;
  lastFile: string | null;
}

/** PNG (8-bit RGBA) of a surface; the copy is taken now, compression runs off the event loop. */
export function encodeSurfacePngAsync(surface: Surface): Promise<Buffer> {
  return encodePngAsync(surface.width, surface.height, surface.toRGBA());
}

/** frame-000001.png, frame-000002.png, ... */
export function frameFileName(n: number): string {
  return `frame-${String(n).padStart(6, '0')}.png`;
}

export class FrameSink {
  readonly stats: FrameSinkStats = { screenshots: 0, screenshotBusy: 0, screenshotIdle: 0, renders: 0, renderBusy: 0, lastFile: null };
  private timers: NodeJS.Timeout[] = [];
  private pngBusy: Promise<void> | null = null;
  private pngVersion = -1;
  private pngSurface: Surface | undefined;
  private pngStopped = false;
  private termVersion = -1;
  private termSurface: Surface | undefined;
  private termWaiting = false;
  private next = 1;

  constructor(private readonly opts: FrameSinkOptions) {}

  start(): void {
    const o = this.opts;
    if (o.screenshotEveryMs && o.screenshotDir) {
      mkdirSync(o.screenshotDir, { recursive: true });
      this.timers.push(setInterval(() => this.pngTick(), Math.max(10, o.screenshotEveryMs)));
    }
    if (o.terminal) {
      this.timers.push(setInterval(() => this.termTick(), Math.max(20, o.terminal.minIntervalMs ?? 200)));
    }
    for (const t of this.timers) t.unref();
  }

  /** Stops the timers and waits for a PNG being written. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.pngBusy;
  }

  /** One screenshot tick (public for tests): write a PNG if the surface changed and no write is running. */
  pngTick(): void {
    if (this.pngStopped) return;
    const { surface, version } = this.opts.source();
    if (!surface || (version === this.pngVersion && surface === this.pngSurface)) { this.stats.screenshotIdle++; return; }
    if (this.pngBusy) { this.stats.screenshotBusy++; return; }
    this.pngVersion = version;
    this.pngSurface = surface;
    const file = join(this.opts.screenshotDir!, frameFileName(this.next++));
    this.pngBusy = (async () => {
      const png = await encodeSurfacePngAsync(surface);
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, png);
      await rename(tmp, file);
      this.stats.screenshots++;
      this.stats.lastFile = file;
    })().catch((e: Error) => {
      this.pngStopped = true;
      this.opts.onError?.(e);
    }).finally(() => { this.pngBusy = null; });
  }

  /** One terminal tick (public for tests): render if the surface changed and the terminal drained. */
  termTick(): void {
    const t = this.opts.terminal!;
    const { surface, version } = this.opts.source();
    if (!surface || (version === this.termVersion && surface === this.termSurface)) return;
    if (this.termWaiting) { this.stats.renderBusy++; return; }
    this.termVersion = version;
    this.termSurface = surface;
    const frame = t.format === 'sixel'
      ? renderSixel(surface, { cols: t.cols, rows: t.rows, cellWidth: t.cellWidth, cellHeight: t.cellHeight })
      : renderAnsi(surface, { cols: t.cols, rows: t.rows, colors: t.colors });
    this.stats.renders++;
    // Cursor home, then the frame: each frame overwrites the previous one.
    if (!t.out.write(`\x1b[H${frame}`)) {
      this.termWaiting = true;
      t.out.once('drain', () => { this.termWaiting = false; });
    }
  }
}
