// The display area of the live view, rendered without holding up the channels (no Ink here).
//
// render(cols, rows) is what LiveApp calls once a refresh: it returns the latest finished frame
// for that box at once, and, when the surface changed since (its draw counter moved) or the box
// did, starts rendering a new one in a worker thread, unless one is already being rendered: then
// that refresh is skipped (frames are dropped, never queued). The main thread only copies the
// surface's bytes (a memcpy); scaling, quantising and encoding happen in the worker.
// Where no worker can start, frames are rendered in this thread, at most once a refresh.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FrameSource } from '../outputs/frames.js';
import type { AnsiColors } from '../outputs/ansi.js';
import { renderJob, type RenderRequest } from './render-job.js';

export interface DisplayRendererOptions {
  format: 'sixel' | 'ansi';
  source: FrameSource;
  /** sixel: pixel size of one cell (default 10 x 20) and the largest image the terminal takes */
  cell?: { width: number; height: number } | null;
  maxImage?: { width: number; height: number } | null;
  colors?: AnsiColors;
  /** render in a worker thread (default true) */
  worker?: boolean;
}

export interface DisplayRendererStats {
  /** frames rendered, refreshes that found the worker busy, ms the last render took (in the worker) */
  rendered: number;
  busy: number;
  lastMs: number;
  /** frames rendered on the main thread (no worker) */
  inThread: number;
  errors: number;
}

interface Done { key: string; version: number; surface: unknown; text: string }

/**
 * The worker: the built render-worker.js next to this file; when running from the TypeScript
 * sources (tests, under tsx), a bootstrap that registers tsx in the worker first (Node 20 does
 * not apply --import loaders to a worker's entry file).
 */
function startWorker(): Worker {
  const js = new URL('./render-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js);
  const ts = new URL('./render-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(ts)}); });`, { eval: true });
}

export class DisplayRenderer {
  readonly stats: DisplayRendererStats = { rendered: 0, busy: 0, lastMs: 0, inThread: 0, errors: 0 };
  private worker: Worker | null = null;
  private workerFailed = false;
  private inFlight: { id: number; key: string; version: number; surface: unknown } | null = null;
  private done: Done | null = null;
  private seq = 0;
  private closed = false;

  constructor(private readonly opts: DisplayRendererOptions) {}

  /** The latest frame for a cols x rows box (null: none yet); starts the next one when due. */
  render = (cols: number, rows: number): string | null => {
    const { surface, version } = this.opts.source();
    if (!surface || this.closed) return this.done?.text ?? null;
    const key = `${cols}x${rows}`;
    const d = this.done;
    const fresh = d && d.key === key && d.version === version && d.surface === surface;
    if (!fresh) {
      if (this.inFlight) this.stats.busy++;
      else this.start(surface, version, key, cols, rows);
    }
    // A picture made for another box would spill over the tables: nothing until the new one.
    return this.done?.key === key ? this.done.text : null;
  };

  private request(surface: NonNullable<ReturnType<FrameSource>['surface']>, cols: number, rows: number): RenderRequest {
    const o = this.opts;
    return {
      id: ++this.seq,
      format: o.format,
      width: surface.width,
      height: surface.height,
      bgra: new Uint8Array(surface.data), // a copy, transferred to the worker
      hasAlpha: surface.hasAlpha,
      cols,
      rows,
      cellWidth: o.cell?.width,
      cellHeight: o.cell?.height,
      maxWidth: o.maxImage?.width,
      maxHeight: o.maxImage?.height,
      colors: o.colors,
    };
  }

  private start(surface: NonNullable<ReturnType<FrameSource>['surface']>, version: number, key: string, cols: number, rows: number): void {
    const req = this.request(surface, cols, rows);
    const w = this.ensureWorker();
    if (!w) {
      const t0 = performance.now();
      try {
        this.done = { key, version, surface, text: renderJob(req) };
        this.stats.rendered++;
        this.stats.inThread++;
      } catch {
        this.stats.errors++;
      }
      this.stats.lastMs = performance.now() - t0;
      return;
    }
    this.inFlight = { id: req.id, key, version, surface };
    w.postMessage(req, [req.bgra.buffer as ArrayBuffer]);
  }

  private ensureWorker(): Worker | null {
    if (this.worker || this.workerFailed || this.opts.worker === false) return this.worker;
    try {
      const w = startWorker();
      w.unref();
      w.on('message', (m: { id: number; text?: string; error?: string; ms?: number }) => {
        const f = this.inFlight;
        if (!f || f.id !== m.id) return;
        this.inFlight = null;
        if (m.text !== undefined) {
          this.done = { key: f.key, version: f.version, surface: f.surface, text: m.text };
          this.stats.rendered++;
          this.stats.lastMs = m.ms ?? 0;
        } else this.stats.errors++;
      });
      const broken = () => {
        // Render in this thread from now on (slower, but the view keeps working).
        this.workerFailed = true;
        this.worker = null;
        this.inFlight = null;
      };
      w.on('error', broken);
      w.on('exit', () => {
        if (!this.closed) broken();
      });
      this.worker = w;
    } catch {
      this.workerFailed = true;
    }
    return this.worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
