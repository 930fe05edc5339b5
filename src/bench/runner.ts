// `spicectl bench recognition`, the core: for every cell of the matrix (compression x link
// limit) and every run, a FRESH SPICE session redirects one device and records the recognition
// timeline from the client's own usbredir traffic, the guest oracle (a serial-log line), bytes
// each way and a SCSI command histogram; between runs it detaches cleanly and waits for the
// guest to report the device gone (or a fixed gap). A limit is a LinkShaper the whole session
// goes through (all channels share it, like one WAN link). No commander, no console.

import { setTimeout as sleep } from 'node:timers/promises';
import { SpiceError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { Session, type SessionOptions } from '../session/session.js';
import { MainChannel } from '../session/channels/main.js';
import { SpicevmcChannel } from '../session/channels/spicevmc.js';
import type { Channel } from '../session/channels/channel.js';
import type { Endpoint } from '../session/uri.js';
import { ChannelType, channelName } from '../session/wire/enums.js';
import { UsbRedirector, describeSource, type DeviceSource } from '../usb/redirect.js';
import { RecognitionRecorder } from '../usb/recognition.js';
import type { UsbTraceEvent } from '../usb/host.js';
import { Opcode } from '../usb/emulated/scsi.js';
import { GuestLog, type LogLine } from './guest-log.js';
import { cellName, summarizeCell, type Cell, type CellSummary, type RunBytes, type RunResult } from './matrix.js';
import { LinkShaper, type ShaperTarget } from './shaper.js';
import { SettleDetector, emptyTimeline, timelineFromRecognition } from './timeline.js';

export interface RecognitionBenchOptions {
  /** where and how to connect (endpoint, password, TLS, log); autoOpen is set per run */
  session: SessionOptions;
  source: DeviceSource;
  cells: Cell[];
  runs: number;
  /** idle time after the last command that counts as settled (ms) */
  settleMs: number;
  /** pause between runs when there is no guest oracle (ms) */
  gapMs: number;
  /** a run that is not settled (and ready) by then fails (ms) */
  timeoutMs: number;
  /** the guest's serial log, followed from its size at each run start */
  guestLog?: string;
  /** the oracle: the first line matching this after t0 is the true recognition time */
  ready?: RegExp;
  /** the guest line that says the device is gone after a detach (default /MARK usb-detached/) */
  gone?: RegExp;
  /** how long to wait for `gone` (ms, default 20000) */
  goneTimeoutMs?: number;
  /** one-way delay of the emulated link (ms) */
  delayMs?: number;
  /** usbredir channel ids to use (default: the redirector's choice, as in `usb redirect`) */
  channelIds?: number[];
  /** also open display, inputs and cursor (as a full viewer would); default: main + usbredir only */
  allChannels?: boolean;
  version: string;
  log?: Logger;
  signal?: AbortSignal;
  /** before each run: done so far, total, the cell and run number */
  onRunStart?: (done: number, total: number, cell: Cell, run: number) => void;
  onRunEnd?: (result: RunResult, done: number, total: number) => void;
}

export interface CellResult {
  cell: Cell;
  summary: CellSummary;
  runs: RunResult[];
}

export interface RecognitionBenchResult {
  device: string;
  cells: CellResult[];
  /** every run succeeded */
  ok: boolean;
  /** stopped early by the signal */
  interrupted: boolean;
}

/** The shaped endpoint: same password, the shaper's ports on 127.0.0.1. */
async function shapedEndpoint(shaper: LinkShaper, ep: Endpoint): Promise<Endpoint> {
  const out: Endpoint = { host: '127.0.0.1', password: ep.password };
  if (ep.unixPath) {
    out.port = await shaper.listen({ path: ep.unixPath });
    return out;
  }
  const target = (port: number): ShaperTarget => ({ host: ep.host!, port });
  if (ep.port !== undefined) out.port = await shaper.listen(target(ep.port));
  if (ep.tlsPort !== undefined) out.tlsPort = await shaper.listen(target(ep.tlsPort));
  return out;
}

const DEFAULT_GONE = /MARK usb-detached\b/;
const FATAL: ReadonlySet<string> = new Set(['usage', 'input', 'auth', 'tls']);
const READS: ReadonlySet<number> = new Set([Opcode.read6, Opcode.read10, Opcode.read12, Opcode.read16, Opcode.readCd]);

export async function runRecognitionBench(o: RecognitionBenchOptions): Promise<RecognitionBenchResult> {
  if (o.runs < 1) throw new SpiceError('usage', '--runs must be at least 1');
  if (o.cells.some((c) => c.limit !== null) && o.session.proxy) {
    throw new SpiceError('usage', '--limit emulates the link itself and cannot be combined with an HTTP proxy (--proxy / SPICE_PROXY): give --proxy ""');
  }
  const shapers = new Map<number, { shaper: LinkShaper; endpoint: Endpoint }>();
  const results = new Map<Cell, RunResult[]>(o.cells.map((c) => [c, []]));
  const total = o.cells.length * o.runs;
  let done = 0;
  let interrupted = false;
  try {
    // Interleaved (run 1 of every cell, then run 2, ...) so that drift of a shared machine
    // spreads over all cells instead of favouring the first.
    outer: for (let run = 1; run <= o.runs; run++) {
      for (const cell of o.cells) {
        if (o.signal?.aborted) {
          interrupted = true;
          break outer;
        }
        let link: { shaper: LinkShaper; endpoint: Endpoint } | null = null;
        if (cell.limit !== null) {
          link = shapers.get(cell.limit) ?? null;
          if (!link) {
            const shaper = new LinkShaper({ rate: cell.limit, delayMs: o.delayMs });
            link = { shaper, endpoint: await shapedEndpoint(shaper, o.session.endpoint) };
            shapers.set(cell.limit, link);
          }
        }
        o.onRunStart?.(done, total, cell, run);
        const r = await runOnce(o, cell, run, link, run === o.runs && cell === o.cells[o.cells.length - 1]);
        results.get(cell)!.push(r);
        done++;
        o.onRunEnd?.(r, done, total);
        if (r.error?.code === 'ok') {
          interrupted = true;
          break outer;
        }
        // A bad image, a refused device or wrong credentials will not fix themselves.
        if (r.error && FATAL.has(r.error.code)) break outer;
      }
    }
  } finally {
    await Promise.all([...shapers.values()].map((s) => s.shaper.close()));
  }
  const cells = o.cells.map((cell) => ({ cell, runs: results.get(cell)!, summary: summarizeCell(cell, results.get(cell)!) }));
  return { device: describeSource(o.source), cells, ok: !interrupted && cells.every((c) => c.runs.every((r) => r.ok)), interrupted };
}

function emptyBytes(): RunBytes {
  return { payloadIn: 0, payloadOut: 0, bodyIn: 0, bodyOut: 0, wireIn: 0, wireOut: 0, sessionIn: 0, sessionOut: 0, linkIn: null, linkOut: null, lz4RatioIn: null, lz4RatioOut: null, compressedIn: 0, compressedOut: 0 };
}

/** One run: fresh session, redirect, wait until settled (and the oracle), detach, wait for the guest. */
async function runOnce(o: RecognitionBenchOptions, cell: Cell, run: number, link: { shaper: LinkShaper; endpoint: Endpoint } | null, last: boolean): Promise<RunResult> {
  const endpoint = link?.endpoint ?? o.session.endpoint;
  const rec = new RecognitionRecorder();
  const t0 = rec.report().startedAt;
  const since = () => performance.now() - t0;
  const guest = o.guestLog ? new GuestLog(o.guestLog, t0).start() : null;
  const timeline = emptyTimeline();
  const settle = new SettleDetector(o.settleMs, o.source.kind === 'device' ? 'configured' : 'scsi');
  const onTrace = (_i: number, ev: UsbTraceEvent) => {
    rec.record(ev);
    const t = ev.t - t0;
    if (ev.kind === 'device') {
      const d = ev.event;
      if (d.kind === 'scsi-command' || d.kind === 'scsi-status') settle.activity(t, 'scsi');
      if (d.kind === 'scsi-command' && READS.has(d.opcode) && (d.blocks ?? 0) > 0) timeline.firstRead ??= t;
    } else if (ev.kind === 'set-configuration') settle.activity(t, 'configured');
    else if (ev.kind === 'control' || ev.kind === 'bulk' || ev.kind === 'set-alt-setting') settle.activity(t, 'transfer');
  };

  const session = new Session({
    ...o.session,
    endpoint,
    proxy: cell.limit !== null ? undefined : o.session.proxy,
    autoOpen: o.allChannels ? undefined : [],
  });
  const watchMain = (m: MainChannel) => {
    m.on('init', () => (timeline.mainInit ??= since()));
    m.on('channels', () => (timeline.channelsListed ??= since()));
  };
  watchMain(session.main);
  session.on('channel', (ch: Channel) => {
    if (ch instanceof MainChannel) watchMain(ch);
    if (ch instanceof SpicevmcChannel && ch.type === ChannelType.usbredir) {
      ch.on('state', (s: string) => {
        if (s === 'ready') timeline.usbredirUp ??= since();
      });
    }
  });
  const redirector = new UsbRedirector(session, {
    lz4: cell.compress === 'lz4',
    log: o.log,
    version: o.version,
    channelIds: o.channelIds,
    onTrace,
  });

  let finished = false;
  let failure: SpiceError | null = null;
  let readyHit: LogLine | null = null;
  const runAbort = new AbortController();
  const onOuterAbort = () => runAbort.abort();
  o.signal?.addEventListener('abort', onOuterAbort);
  const failed = new Promise<never>((_, reject) => {
    const fail = (e: SpiceError) => {
      if (!finished) reject(e);
    };
    session.once('failed', fail);
    redirector.on('failed', fail);
    redirector.on('rejected', (_i: number, r: { by: string; reason: string }) =>
      fail(new SpiceError('input', `${describeSource(o.source)}: ${r.by === 'filter' ? "the VM's USB filter" : 'the guest'} refused it: ${r.reason}`)));
    redirector.on('gone', (_i: number, why: string) => fail(new SpiceError('disconnected', `the device was detached during the run (${why})`)));
    runAbort.signal.addEventListener('abort', () => fail(new SpiceError('ok', 'interrupted')));
  });
  failed.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const what = [
        settle.settledAt(since()) === null ? (settle.isArmed ? 'the device to settle' : 'the first SCSI command') : null,
        o.ready && !readyHit ? `the guest oracle /${o.ready.source}/` : null,
      ].filter(Boolean).join(' and ');
      reject(new SpiceError('timeout', `run timed out after ${o.timeoutMs / 1000} s waiting for ${what || 'the session'}`));
    }, o.timeoutMs);
  });
  deadline.catch(() => {});
  const race = <T>(p: Promise<T>) => Promise.race([p, failed, deadline]);

  if (guest && o.ready) {
    void guest.waitFor(o.ready, o.timeoutMs + 1000, 0, runAbort.signal).then((l) => {
      readyHit = l;
    });
  }

  try {
    await race(session.connect());
    // As `usb redirect` does it: the redirector picks the channel ids (the listed ones, or
    // guessed ones right after MAIN_INIT) unless --channel-ids names them.
    await race(redirector.start([o.source]));
    // Settled (idle for settleMs after the last command) and, with an oracle, ready. On a
    // limited link, bytes of the usbredir connection still crossing it count as activity.
    const linkActivity = () => {
      const c = link?.shaper.find(ChannelType.usbredir);
      if (!c) return;
      if (c.up.busy || c.down.busy) settle.activity(since(), 'link');
      const doneAt = Math.max(c.up.lastDoneAt ?? -Infinity, c.down.lastDoneAt ?? -Infinity);
      if (Number.isFinite(doneAt)) settle.activity(doneAt - t0, 'link');
    };
    for (;;) {
      linkActivity();
      const rem = settle.remaining(since());
      if (rem === 0 && (!o.ready || !guest || readyHit)) break;
      await race(sleep(rem === null || rem === 0 ? 25 : Math.min(rem + 1, link ? 50 : 250)));
    }
  } catch (e) {
    failure = e instanceof SpiceError ? e : new SpiceError('protocol', (e as Error).message, { cause: e });
  } finally {
    clearTimeout(timer);
  }
  finished = true;
  const settledAt = settle.settledAt(since()) ?? (failure ? settle.lastActivity : null);

  // Bytes at the end of the recognition (before the detach adds its own).
  const bytes = emptyBytes();
  const ch = redirector.items[0]?.channel;
  if (ch) {
    const p = ch.payload;
    Object.assign(bytes, {
      payloadIn: p.payloadIn, payloadOut: p.payloadOut, bodyIn: p.bodyIn, bodyOut: p.bodyOut,
      wireIn: ch.stats.in.bytes, wireOut: ch.stats.out.bytes,
      lz4RatioIn: p.bodyIn ? p.payloadIn / p.bodyIn : null, lz4RatioOut: p.bodyOut ? p.payloadOut / p.bodyOut : null,
      compressedIn: p.compressedIn, compressedOut: p.compressedOut,
    });
  }
  const channels: Record<string, { in: number; out: number }> = {};
  for (const c of session.channels) {
    bytes.sessionIn += c.stats.in.bytes;
    bytes.sessionOut += c.stats.out.bytes;
    const prev = channels[c.name];
    channels[c.name] = { in: (prev?.in ?? 0) + c.stats.in.bytes, out: (prev?.out ?? 0) + c.stats.out.bytes };
  }
  let linkBytes: RunResult['link'];
  if (link) {
    linkBytes = {};
    for (const c of link.shaper.list()) {
      const name = c.channelType === null ? `connection${c.id}` : `${channelName(c.channelType)}:${c.channelId}`;
      linkBytes[name] = { up: c.up.bytes, down: c.down.bytes };
      bytes.linkIn = (bytes.linkIn ?? 0) + c.down.bytes;
      bytes.linkOut = (bytes.linkOut ?? 0) + c.up.bytes;
    }
  }
  const report = rec.report();
  const lz4 = ch?.compressing ?? false;

  // Detach: device_disconnect (+ ack), image closed, sockets closed; then let the guest notice.
  const detachStart = performance.now();
  const fromLine = guest ? (guest.read(), guest.lines.length) : 0;
  try {
    await Promise.race([redirector.close(), sleep(10_000, undefined, { ref: false })]);
  } catch (e) {
    o.log?.warn({ err: (e as Error).message }, 'bench: detaching');
  }
  session.close();
  let by: RunResult['detach']['by'] = 'none';
  const interrupted = failure?.code === 'ok';
  if (guest && report.deviceConnectSent !== null && !interrupted) {
    const hit = await guest.waitFor(o.gone ?? DEFAULT_GONE, o.goneTimeoutMs ?? 20_000, fromLine, o.signal);
    by = hit ? 'guest' : 'timeout';
    // What the guest still prints about the vanished device belongs to this run, not the next.
    await guest.waitQuiet(300, 3000, o.signal);
  } else if (!last && !interrupted) {
    await sleep(o.gapMs, undefined, { signal: o.signal }).catch(() => {});
    by = 'gap';
  }
  // The recognition's marks: what the guest printed before we started to detach.
  const marks = guest ? guest.marks(fromLine) : {};
  guest?.stop();
  o.signal?.removeEventListener('abort', onOuterAbort);

  const result: RunResult = {
    cell: cellName(cell),
    compress: cell.compress,
    limit: cell.limit,
    run,
    ok: failure === null,
    ...(failure ? { error: { code: failure.code, message: failure.message } } : {}),
    timeline: timelineFromRecognition(timeline, report, settledAt),
    ready: readyHit ? (readyHit as LogLine).t : null,
    ...(readyHit ? { readyLine: (readyHit as LogLine).line } : {}),
    marks,
    bytes,
    lz4,
    scsi: { commands: report.scsiCommands, failures: report.scsiFailures, opcodes: report.opcodes, senses: report.senses },
    controlRequests: report.controlRequests,
    channels,
    ...(linkBytes ? { link: linkBytes } : {}),
    detach: { ms: Math.round(performance.now() - detachStart), by },
  };
  return result;
}
