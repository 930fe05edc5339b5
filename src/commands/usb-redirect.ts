import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpiceError } from '../util/errors.js';
import { printJson, printLine } from '../util/output.js';
import { Session } from '../session/session.js';
import { parseRate } from '../session/limiter.js';
import { snapshot } from '../session/stats/snapshot.js';
import { UsbRedirector, describeSource, type DeviceSource } from '../usb/redirect.js';
import { addConnectionOptions, seconds, sessionOptions, withSignals, type ConnectionFlags } from './connection-options.js';

interface RedirectFlags extends ConnectionFlags {
  device?: string[];
  disk?: string[];
  ro?: boolean;
  cd?: string[];
  compress?: string;
  limit?: string;
  duration?: string;
  timeout?: string;
  json?: boolean;
}

export const VERSION = '0.1.0';

function sources(flags: RedirectFlags): DeviceSource[] {
  const out: DeviceSource[] = [
    ...(flags.disk ?? []).map((path): DeviceSource => ({ kind: 'disk', path, readOnly: flags.ro })),
    ...(flags.cd ?? []).map((path): DeviceSource => ({ kind: 'cd', path })),
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
  const { options, log } = await sessionOptions(uri, flags);
  const session = new Session({ ...options, autoOpen: [] });
  const redirector = new UsbRedirector(session, { lz4: flags.compress !== 'off', limit: { in: rate, out: rate }, log, version: VERSION });
  const events: string[] = [];
  const say = (s: string) => {
    events.push(s);
    if (!flags.json) printLine(s);
  };

  return withSignals(async (signal) => {
    let failure: SpiceError | null = null;
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
      const deadline = sleep(timeoutMs, undefined, { ref: false }).then(() => {
        throw new SpiceError('timeout', `timed out after ${timeoutMs / 1000} s waiting for the usbredir channels`);
      });
      const abortable = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new SpiceError('ok', 'interrupted'))));
      await Promise.race([session.connect(), session.failure(), deadline, abortable]);
      redirector.on('connected', (i: number) => say(`redirected: ${redirector.items[i]!.device.info.description} on ${redirector.items[i]!.channel.name}${redirector.items[i]!.channel.compressing ? ' (lz4)' : ''}`));
      await Promise.race([redirector.start(srcs), session.failure(), deadline, abortable]);
      await Promise.race([ended, session.failure()]);
    } catch (e) {
      if (!(e instanceof SpiceError && e.code === 'ok')) failure = e instanceof SpiceError ? e : new SpiceError('protocol', (e as Error).message, { cause: e });
    }
    // Always a clean detach: device_disconnect, image flushed, real devices back to their drivers.
    await redirector.close();
    const snap = snapshot(session);
    session.close();
    if (flags.json) printJson({ ok: !failure, events, usb: snap.usb, channels: snap.channels, ...(failure ? { error: { code: failure.code, exitCode: failure.exitCode, message: failure.message } } : {}) });
    else for (const u of snap.usb) {
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
    .option('--compress <mode>', 'lz4 (default) or off: LZ4 on the usbredir channel', 'lz4')
    .option('--limit <rate>', 'bandwidth limit per direction, e.g. 30KB/s')
    .option('--duration <seconds>', 'detach and exit after this long')
    .option('--timeout <seconds>', 'give up when the channels are not up in time (default 30)')
    .option('--json', 'print one JSON report at the end')
    .action(async (uri: string, flags: RedirectFlags, c: Command) => {
      process.exitCode = await redirectAction(uri, { ...(c.optsWithGlobals() as RedirectFlags), ...flags });
    });
}
