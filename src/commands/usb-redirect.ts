import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpiceError } from '../util/errors.js';
import { parseEmulatedSpeed } from '../usb/emulated/speed.js';
import { printJson, printLine } from '../util/output.js';
import { Session } from '../session/session.js';
import { parseRate } from '../session/limiter.js';
import { SessionMonitor } from '../session/stats/monitor.js';
import { UsbRedirector, describeSource, type DeviceSource } from '../usb/redirect.js';
import { interactive } from '../render/tui/interactive.js';
import type { StatsPrinter } from '../render/tui/live.js';
import type { TuiHandle } from '../render/tui/run-tui.js';
import { addConnectionOptions, anySignal, millis, seconds, sessionOptions, withSignals, type ConnectionFlags } from './connection-options.js';

interface RedirectFlags extends ConnectionFlags {
  device?: string[];
  disk?: string[];
  ro?: boolean;
  cd?: string[];
  usbSpeed?: string;
  /** false with --no-uas */
  uas?: boolean;
  compress?: string;
  limit?: string;
  duration?: string;
  timeout?: string;
  json?: boolean;
  tui?: boolean;
  statsInterval?: string;
  refresh?: string;
}

export const VERSION = '0.1.0';

const SPEED_NAMES: Record<string, string> = { low: 'low speed', full: 'full speed', high: 'high speed', super: 'SuperSpeed', 'super-plus': 'SuperSpeed+' };

function sources(flags: RedirectFlags): DeviceSource[] {
  const speed = parseEmulatedSpeed(flags.usbSpeed);
  const out: DeviceSource[] = [
    ...(flags.disk ?? []).map((path): DeviceSource => ({ kind: 'disk', path, readOnly: flags.ro, speed, uas: flags.uas })),
    ...(flags.cd ?? []).map((path): DeviceSource => ({ kind: 'cd', path, speed, uas: flags.uas })),
    ...(flags.device ?? []).map((selector): DeviceSource => ({ kind: 'device', selector })),
  ];
  if (!out.length) throw new SpiceError('usage', 'nothing to redirect: give --disk IMG, --cd ISO or --device vid:pid|bus-port|serial:S');
  return out;
}

async function redirectAction(uri: string, flags: RedirectFlags): Promise<number> {
  const srcs = sources(flags);
  if (flags.compress && !['lz4', 'off'].includes(flags.compress)) throw new SpiceError('usage', `--compress must be lz4 or off, not "${flags.compress}"`);
  const rate = flags.limit ? parseRate(flags.limit) : null;
  const timeoutMs = seconds(flags.timeout, '--timeout') ?? 30_000;
  const durationMs = seconds(flags.duration, '--duration');
  const statsIntervalMs = millis(flags.statsInterval, '--stats-interval', 50);
  const refreshMs = millis(flags.refresh, '--refresh', 50);
  // The USB panel on a terminal (outside CI) unless --no-tui, --json or stats lines are asked for.
  const tui = flags.tui ?? (!flags.json && statsIntervalMs === undefined && interactive());
  if (tui && statsIntervalMs !== undefined) throw new SpiceError('usage', '--stats-interval prints lines on stdout: it cannot be combined with --tui');
  // Logs must not land on the terminal the live view owns: a --log-file, or nothing.
  const { options, log } = await sessionOptions(uri, tui && !flags.logFile ? { ...flags, logLevel: 'silent' } : flags);
  const session = new Session({ ...options, autoOpen: [] });
  const events: string[] = [];
  let view: TuiHandle | null = null;
  const say = (s: string) => {
    events.push(s);
    // While the live view owns the terminal, events are flashed there and printed afterwards;
    // among NDJSON stats lines they are JSON too.
    if (flags.json || view) return;
    printLine(statsIntervalMs !== undefined ? JSON.stringify({ t: Date.now(), event: s }) : s);
  };
  const onSpeedChange = (i: number, speed: string, reason: string): void => say(`${describeSource(srcs[i]!)}: ${reason}: ${SPEED_NAMES[speed] ?? speed} from now on`);
  // Said once per device: a guest switches again after every port reset.
  const onUas = new Set<number>();
  const onTransport = (i: number, transport: 'bot' | 'uas'): void => {
    if (transport !== 'uas' || onUas.has(i)) return;
    onUas.add(i);
    say(`${describeSource(srcs[i]!)}: the guest drives it with USB Attached SCSI (UAS)`);
  };
  const redirector = new UsbRedirector(session, { lz4: flags.compress !== 'off', limit: { in: rate, out: rate }, log, version: VERSION, onSpeedChange, onTransport });
  const monitor = new SessionMonitor(session, {
    pingIntervalMs: 0,
    extras: () => ({
      usbDevices: new Map(redirector.items.filter(Boolean).map((it) => [it.channel.name, { device: it.device.info.description, limit: rate }])),
    }),
  });

  return withSignals(async (interrupt) => {
    const quit = new AbortController();
    const signal = anySignal(interrupt, quit.signal);
    let failure: SpiceError | null = null;
    let stats: StatsPrinter | null = null;
    const ended = new Promise<void>((resolve, reject) => {
      signal.addEventListener('abort', () => resolve());
      redirector.on('failed', reject);
      redirector.on('rejected', (i: number, r: { by: string; reason: string }) =>
        reject(new SpiceError('input', `${describeSource(srcs[i]!)}: ${r.by === 'filter' ? "the VM's USB filter" : 'the guest'} refused it: ${r.reason}`)));
      redirector.on('gone', (i: number, why: string) => {
        say(`detached: ${describeSource(srcs[i]!)} (${why})`);
        if (redirector.items.every((it) => !it?.connected)) resolve();
      });
      if (durationMs) sleep(durationMs, undefined, { signal }).then(() => resolve(), () => {});
    });
    ended.catch(() => {});
    try {
      // Images first: a bad one is reported before any connection, reachable server or not.
      await redirector.prepare(srcs);
      if (tui) {
        const { openLiveView } = await import('../render/tui/live.js');
        view = await openLiveView({
          getSnapshot: () => monitor.snapshot(),
          refreshMs,
          onQuit: () => quit.abort(),
          getNotice: () => events.at(-1) ?? null,
        }, flags.tui === true);
        view.done.catch(() => quit.abort());
      } else if (statsIntervalMs !== undefined) {
        const { startStatsLines } = await import('../render/tui/live.js');
        stats = startStatsLines(() => monitor.snapshot(), statsIntervalMs);
      }
      const deadline = sleep(timeoutMs, undefined, { ref: false }).then(() => {
        throw new SpiceError('timeout', `timed out after ${timeoutMs / 1000} s waiting for the usbredir channels`);
      });
      const abortable = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new SpiceError('ok', 'interrupted'))));
      await Promise.race([session.connect(), session.failure(), deadline, abortable]);
      redirector.on('connected', (i: number) => {
        const it = redirector.items[i]!;
        const extras = [SPEED_NAMES[it.device.info.speed] ?? it.device.info.speed, ...(it.channel.compressing ? ['lz4'] : [])];
        say(`redirected: ${it.device.info.description} on ${it.channel.name} (${extras.join(', ')})`);
      });
      await Promise.race([redirector.start(srcs), session.failure(), deadline, abortable]);
      await Promise.race([ended, session.failure()]);
    } catch (e) {
      if (!(e instanceof SpiceError && e.code === 'ok')) failure = e instanceof SpiceError ? e : new SpiceError('protocol', (e as Error).message, { cause: e });
    }
    // Always a clean detach: device_disconnect, image flushed, real devices back to their drivers.
    await redirector.close();
    if (view) {
      view.stop();
      await view.done.catch(() => {});
      view = null;
      if (!flags.json) for (const e of events) printLine(e);
    }
    const snap = monitor.snapshot();
    monitor.stop();
    session.close();
    if (stats) {
      // The last line carries the totals: let the last bytes in flight be counted first.
      await sleep(100);
      stats.stop(true);
    }
    const report = { ok: !failure, events, usb: snap.usb, channels: snap.channels, ...(failure ? { error: { code: failure.code, exitCode: failure.exitCode, message: failure.message } } : {}) };
    // With stats lines, stdout stays NDJSON: the report (--json) on one line, no summary lines.
    if (flags.json) stats ? printLine(JSON.stringify(report)) : printJson(report);
    else if (!stats) for (const u of snap.usb) {
      printLine(`${u.channel}: guest->client payload ${u.payloadIn} B (wire ${u.wireIn} B), client->guest payload ${u.payloadOut} B (wire ${u.wireOut} B)${u.lz4 ? `, lz4 ratio in ${u.ratioIn?.toFixed(2) ?? '-'} out ${u.ratioOut?.toFixed(2) ?? '-'}` : ''}`);
    }
    if (failure) throw failure;
    return 0;
  });
}

export function registerUsbRedirect(usb: Command): void {
  const cmd = usb
    .command('redirect')
    .description('redirect USB devices (real, or emulated from a disk image or ISO) into the guest until Ctrl-C')
    .argument('<uri>', 'spice://host:port (see spicectl connect)');
  addConnectionOptions(cmd)
    .option('--device <selector...>', 'a local device: vid:pid, bus-port (1-2.3) or serial:S')
    .option('--disk <image...>', 'an emulated USB stick backed by this disk image')
    .option('--ro', 'make emulated disks read-only')
    .option('--cd <iso...>', 'an emulated USB CD-ROM backed by this ISO')
    .option('--usb-speed <speed>', 'bus speed of emulated devices: auto (SuperSpeed, high speed on a USB 2 controller), super, high or full', 'auto')
    .option('--no-uas', 'emulated devices offer Bulk-Only transport only, not USB Attached SCSI (UAS is offered at SuperSpeed)')
    .option('--compress <mode>', 'lz4 (default) or off: LZ4 on the usbredir channel', 'lz4')
    .option('--limit <rate>', 'bandwidth limit per direction, e.g. 30KB/s')
    .option('--duration <seconds>', 'detach and exit after this long')
    .option('--timeout <seconds>', 'give up when the channels are not up in time (default 30)')
    .option('--json', 'print one JSON report at the end')
    .option('--tui', 'show the live view with the USB panel even when stdout is not a terminal or CI is set')
    .option('--no-tui', 'never show the live view (default on a terminal, outside CI)')
    .option('--stats-interval <ms>', 'print one NDJSON line of stats (payload vs wire bytes, LZ4 ratio, limit, channels) every MS milliseconds, and one at the end')
    .option('--refresh <ms>', 'how often the live view redraws (default 250, at least 50)')
    .action(async (uri: string, flags: RedirectFlags, c: Command) => {
      process.exitCode = await redirectAction(uri, { ...(c.optsWithGlobals() as RedirectFlags), ...flags });
    });
}
