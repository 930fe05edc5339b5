// The sessions of `spicectl bench recognition` (runner.ts): opening a session and its
// redirector, closing them, the hot session kept up for a cell in hot-plug mode (opened, its
// usbredir hellos exchanged, left to go quiet before the first plug), the guard that ends a run
// when any of them fails, and the byte counters a run's figures are taken from.

import { setTimeout as sleep } from 'node:timers/promises';
import type { EventEmitter } from 'node:events';
import { SpiceError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { Session } from '../session/session.js';
import { MainChannel } from '../session/channels/main.js';
import { SpicevmcChannel } from '../session/channels/spicevmc.js';
import type { Channel } from '../session/channels/channel.js';
import type { Endpoint } from '../session/uri.js';
import { ChannelType, channelName } from '../session/wire/enums.js';
import { UsbRedirector, describeSource, type DeviceSource } from '../usb/redirect.js';
import type { UsbredirHost, UsbTraceEvent } from '../usb/host.js';
import type { ByteCounters, Cell } from './matrix.js';
import type { LinkShaper } from './shaper.js';
import type { RecognitionBenchOptions, SessionPoints } from './runner.js';

export type Link = { shaper: LinkShaper; endpoint: Endpoint };
export type Target = { session: Session; redirector: UsbRedirector };

/** hot-plug: the session kept up for a cell, and where the current run's traces go. */
export interface HotSession extends Target {
  host: UsbredirHost;
  trace: ((i: number, ev: UsbTraceEvent) => void) | null;
  points: SessionPoints;
}

/**
 * Ends a run early: the session or its redirector failed, the device was refused or lost, or
 * the user interrupted. Listeners come off at finish(): a hot session outlives its runs.
 */
export class RunGuard {
  readonly failed: Promise<never>;
  readonly abort = new AbortController();
  private reject!: (e: SpiceError) => void;
  private finished = false;
  private readonly offs: (() => void)[] = [];

  constructor(signal?: AbortSignal) {
    this.failed = new Promise<never>((_, reject) => (this.reject = reject));
    this.failed.catch(() => {});
    const onAbort = () => this.abort.abort();
    signal?.addEventListener('abort', onAbort);
    this.offs.push(() => signal?.removeEventListener('abort', onAbort));
    this.abort.signal.addEventListener('abort', () => this.fail(new SpiceError('ok', 'interrupted')));
  }

  fail(e: SpiceError): void {
    if (!this.finished) this.reject(e);
  }

  watch(t: Target, source: DeviceSource): void {
    const on = <A extends unknown[]>(em: EventEmitter, ev: string, fn: (...a: A) => void) => {
      em.on(ev, fn);
      this.offs.push(() => em.off(ev, fn));
    };
    on(t.session, 'failed', (e: SpiceError) => this.fail(e));
    on(t.redirector, 'failed', (e: SpiceError) => this.fail(e));
    on(t.redirector, 'rejected', (_i: number, r: { by: string; reason: string }) =>
      this.fail(new SpiceError('input', `${describeSource(source)}: ${r.by === 'filter' ? "the VM's USB filter" : 'the guest'} refused it: ${r.reason}`)));
    on(t.redirector, 'gone', (_i: number, why: string) => this.fail(new SpiceError('disconnected', `the device was detached during the run (${why})`)));
  }

  finish(): void {
    this.finished = true;
    for (const off of this.offs.splice(0)) off();
  }
}

/** A session and its redirector, not connected yet; `point` hears the session's own milestones. */
export function newTarget(o: RecognitionBenchOptions, cell: Cell, link: Link | null, onTrace: (i: number, ev: UsbTraceEvent) => void, point: (k: keyof SessionPoints) => void): Target {
  const session = new Session({
    ...o.session,
    endpoint: link?.endpoint ?? o.session.endpoint,
    proxy: cell.limit !== null ? undefined : o.session.proxy,
    autoOpen: o.allChannels ? undefined : [],
  });
  const watchMain = (m: MainChannel) => {
    m.on('init', () => point('mainInit'));
    m.on('channels', () => point('channelsListed'));
  };
  watchMain(session.main);
  session.on('channel', (ch: Channel) => {
    if (ch instanceof MainChannel) watchMain(ch);
    if (ch instanceof SpicevmcChannel && ch.type === ChannelType.usbredir) {
      ch.on('state', (s: string) => {
        if (s === 'ready') point('usbredirUp');
      });
    }
  });
  const redirector = new UsbRedirector(session, {
    lz4: cell.compress === 'lz4',
    log: o.log,
    version: o.version,
    channelIds: o.channelIds,
    onTrace,
    // A hot session is idle before each plug (see openHot): nothing to hold back then.
    ...(o.hotplug ? { autoConnect: false, holdMain: false } : {}),
  });
  return { session, redirector };
}

/** Unplugs (device_disconnect + ack, bounded), closes the device and the session. */
export async function closeTarget(t: Target, log?: Logger): Promise<void> {
  try {
    await Promise.race([t.redirector.close(), sleep(10_000, undefined, { ref: false })]);
  } catch (e) {
    log?.warn({ err: (e as Error).message }, 'bench: detaching');
  }
  t.session.close();
}

/** A hot session can take the next plug: session, channel and usbredir host all alive, device out. */
export function usable(h: HotSession): boolean {
  return !h.session.error && h.redirector.items[0]?.channel.state === 'ready' && h.host.state === 'ready';
}

/**
 * hot-plug: opens the cell's session and usbredir channel, exchanges the usbredir hellos
 * (device not plugged), then waits until the session is idle, so that the first run, like
 * the others, plugs into a live session and not into the server's start-up traffic (the
 * main channel's bandwidth test).
 */
export async function openHot(o: RecognitionBenchOptions, cell: Cell, link: Link | null, guard: RunGuard, race: <T>(p: Promise<T>) => Promise<T>): Promise<HotSession> {
  const opened = performance.now();
  const points: SessionPoints = { mainInit: null, channelsListed: null, usbredirUp: null, helloReceived: null };
  let hot: HotSession | null = null;
  const t = newTarget(o, cell, link, (i, ev) => {
    if (ev.kind === 'hello-received') points.helloReceived ??= ev.t - opened;
    hot?.trace?.(i, ev);
  }, (k) => (points[k] ??= performance.now() - opened));
  guard.watch(t, o.source);
  try {
    await race(t.session.connect());
    await race(t.redirector.start([o.source]));
    const host = t.redirector.items[0]!.host;
    await race(Promise.race([hostReady(host), sleep(10_000, undefined, { ref: false }).then(() => {
      throw new SpiceError('timeout', 'no usbredir hello from the server within 10 s');
    })]));
    await race(sessionQuiet(t.session, 500, 20_000));
    hot = { ...t, host, trace: null, points };
    return hot;
  } catch (e) {
    await closeTarget(t, o.log);
    throw e;
  }
}

/** Resolves when the usbredir hellos are exchanged; rejects if the host ends first. */
export function hostReady(host: UsbredirHost): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (s: string) => {
      if (s === 'ready') resolve();
      else if (s === 'closed' || s === 'failed' || s === 'rejected') reject(new SpiceError('disconnected', `the usbredir channel ended before the hellos (${s})`));
      else return;
      host.off('state', check);
    };
    host.on('state', check);
    check(host.state);
  });
}

/** Resolves once no channel of the session has moved a byte for quietMs (at most maxMs). */
export async function sessionQuiet(session: Session, quietMs: number, maxMs: number): Promise<void> {
  const bytes = () => session.channels.reduce((n, c) => n + c.stats.in.bytes + c.stats.out.bytes, 0);
  const start = performance.now();
  let last = bytes();
  let since = start;
  while (performance.now() - start < maxMs) {
    await sleep(50);
    const n = bytes();
    if (n !== last) [last, since] = [n, performance.now()];
    else if (performance.now() - since >= quietMs) return;
  }
}

/** The byte counters of a session now (its usbredir channel, every channel, the link). */
export function countersNow(t: Target, link: Link | null): ByteCounters {
  const ch = t.redirector.items[0]?.channel;
  const p = ch?.payload;
  const out: ByteCounters = {
    usbredir: ch && p ? {
      payloadIn: p.payloadIn, payloadOut: p.payloadOut, bodyIn: p.bodyIn, bodyOut: p.bodyOut,
      wireIn: ch.stats.in.bytes, wireOut: ch.stats.out.bytes, compressedIn: p.compressedIn, compressedOut: p.compressedOut,
    } : null,
    channels: {},
    link: null,
    turns: ch ? { turns: ch.stats.turns.count, ms: ch.stats.turns.ms } : null,
  };
  for (const c of t.session.channels) {
    const prev = out.channels[c.name];
    out.channels[c.name] = { in: (prev?.in ?? 0) + c.stats.in.bytes, out: (prev?.out ?? 0) + c.stats.out.bytes };
  }
  if (link) {
    out.link = {};
    for (const c of link.shaper.list()) {
      const name = c.channelType === null ? `connection${c.id}` : `${channelName(c.channelType)}:${c.channelId}`;
      out.link[name] = { up: c.up.bytes, down: c.down.bytes };
    }
  }
  return out;
}
