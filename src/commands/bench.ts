// spicectl bench: measurements over the session core.
//   bench recognition <uri> --cd ISO | --disk IMG | --device SEL   USB recognition-time experiment
//   bench shaper --target HOST:PORT --rate 30KB/s                    a WAN link emulator (TCP)
import type { Command } from 'commander';
import { SpiceError } from '../util/errors.js';
import { parseEmulatedSpeed } from '../usb/emulated/speed.js';
import { printJson, printLine } from '../util/output.js';
import { parseRate } from '../session/limiter.js';
import type { Endpoint } from '../session/uri.js';
import type { DeviceSource } from '../usb/redirect.js';
import { compilePattern } from '../bench/guest-log.js';
import { buildCells, cellName, formatMatrix, parseCompressList, parseLimitList, progressLine } from '../bench/matrix.js';
import { runRecognitionBench } from '../bench/runner.js';
import { LinkShaper, describeShaperTarget, parseTarget } from '../bench/shaper.js';
import { fmtBytes } from '../bench/stats.js';
import { addConnectionOptions, list, sessionOptions, withSignals, type ConnectionFlags } from './connection-options.js';
import { VERSION } from './usb-redirect.js';

interface RecognitionFlags extends ConnectionFlags {
  disk?: string;
  ro?: boolean;
  cd?: string;
  usbSpeed?: string;
  /** false with --no-uas */
  uas?: boolean;
  device?: string;
  hotplug?: boolean;
  runs: string;
  compress: string;
  limit: string;
  delayMs?: string;
  settleMs: string;
  gapMs: string;
  timeout: string;
  guestLog?: string;
  ready?: string;
  gone: string;
  channelIds?: string;
  allChannels?: boolean;
  progress: boolean;
  json?: boolean;
}

function count(v: string, flag: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new SpiceError('usage', `${flag} must be a whole number >= ${min}, not "${v}"`);
  return n;
}

function millis(v: string, flag: string, min = 0): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new SpiceError('usage', `${flag} must be a number of milliseconds >= ${min}, not "${v}"`);
  return n;
}

function source(flags: RecognitionFlags): DeviceSource {
  const given = [flags.disk, flags.cd, flags.device].filter((v) => v !== undefined);
  if (given.length !== 1) throw new SpiceError('usage', 'give exactly one device: --disk IMG, --cd ISO or --device vid:pid|bus-port|serial:S');
  const speed = parseEmulatedSpeed(flags.usbSpeed);
  if (flags.disk !== undefined) return { kind: 'disk', path: flags.disk, readOnly: flags.ro, speed, uas: flags.uas };
  if (flags.cd !== undefined) return { kind: 'cd', path: flags.cd, speed, uas: flags.uas };
  return { kind: 'device', selector: flags.device! };
}

/** host:port / unix:path for reports (never the password). */
function describeEndpoint(ep: Endpoint): string {
  if (ep.unixPath) return `unix:${ep.unixPath}`;
  const h = ep.host?.includes(':') ? `[${ep.host}]` : ep.host;
  return [ep.port !== undefined ? `${h}:${ep.port}` : null, ep.tlsPort !== undefined ? `tls:${h}:${ep.tlsPort}` : null].filter(Boolean).join(' ');
}

async function recognitionAction(uri: string, flags: RecognitionFlags): Promise<number> {
  const src = source(flags);
  const runs = count(flags.runs, '--runs', 1);
  const cells = buildCells(parseCompressList(flags.compress), parseLimitList(flags.limit));
  const settleMs = millis(flags.settleMs, '--settle-ms', 1);
  const gapMs = millis(flags.gapMs, '--gap-ms');
  const timeoutMs = millis(flags.timeout, '--timeout', 0.001) * 1000;
  const delayMs = flags.delayMs !== undefined ? millis(flags.delayMs, '--delay-ms') : 0;
  if (flags.ready !== undefined && !flags.guestLog) throw new SpiceError('usage', '--ready needs --guest-log FILE (the guest serial log to follow)');
  const ready = flags.ready !== undefined ? compilePattern(flags.ready, '--ready') : undefined;
  const gone = compilePattern(flags.gone, '--gone');
  const channelIds = list(flags.channelIds)?.map((v) => count(v, '--channel-ids', 0));
  const { options, log } = await sessionOptions(uri, flags);
  const showProgress = flags.progress && process.stderr.isTTY === true;
  const progress = (s: string) => process.stderr.write(`\r\x1b[2K${s}`);

  return withSignals(async (signal) => {
    const result = await runRecognitionBench({
      session: options,
      source: src,
      cells,
      runs,
      hotplug: flags.hotplug === true,
      settleMs,
      gapMs,
      timeoutMs,
      guestLog: flags.guestLog,
      ready,
      gone,
      delayMs,
      channelIds: channelIds?.length ? channelIds : undefined,
      allChannels: flags.allChannels,
      version: VERSION,
      log,
      signal,
      onRunStart: (done, total, cell, run) => {
        if (showProgress) progress(progressLine(done, total, `${cellName(cell)} run ${run}`));
      },
      onRunEnd: (r, done, total) => {
        if (showProgress) progress(progressLine(done, total, `${r.cell} run ${r.run} ${r.ok ? 'ok' : 'FAILED'}`));
        log.info({ cell: r.cell, run: r.run, ok: r.ok, settled: r.timeline.settled, ready: r.ready, error: r.error?.message }, 'bench run done');
      },
    });
    if (showProgress) process.stderr.write('\r\x1b[2K');
    const failures = result.cells.flatMap((c) => c.runs.filter((r) => !r.ok && r.error?.code !== 'ok'));
    if (flags.json) {
      printJson({
        ok: result.ok,
        interrupted: result.interrupted,
        kind: 'recognition',
        mode: result.mode,
        t0: result.t0,
        target: describeEndpoint(options.endpoint),
        device: result.device,
        settings: {
          runs, settleMs, gapMs, timeoutMs, delayMs,
          guestLog: flags.guestLog ?? null, ready: flags.ready ?? null, gone: flags.gone,
          channelIds: channelIds ?? null, allChannels: flags.allChannels === true,
          cells: cells.map((c) => ({ cell: cellName(c), compress: c.compress, limit: c.limit, limitText: c.limitText })),
        },
        cells: result.cells.map((c) => ({ ...c.summary, sessions: c.sessions, sessionSetup: c.sessionSetup, runs: c.runs })),
      });
    } else {
      printLine(`recognition of ${result.device} via ${describeEndpoint(options.endpoint)}: ${runs} run(s) per cell, settle ${settleMs} ms${flags.ready ? `, oracle /${flags.ready}/` : ''}${result.interrupted ? ' (interrupted)' : ''}`);
      printLine(`mode ${result.mode}: ${result.t0}`);
      if (result.mode === 'hotplug') printLine(`sessions opened: ${result.cells.map((c) => `${cellName(c.cell)} ${c.sessions}`).join(', ')}`);
      printLine('');
      for (const l of formatMatrix(result.cells.map((c) => c.summary), { ready: flags.ready })) printLine(l);
      for (const f of failures) printLine(`run ${f.run} of ${f.cell} failed: ${f.error!.message}`);
    }
    if (failures.length) {
      const first = failures[0]!;
      throw new SpiceError(first.error!.code as SpiceError['code'], `${failures.length} of ${result.cells.reduce((n, c) => n + c.runs.length, 0)} run(s) failed; first: ${first.error!.message}`);
    }
    return 0;
  });
}

interface ShaperFlags {
  listen: string;
  target: string;
  rate: string;
  rateUp?: string;
  delayMs?: string;
  burst?: string;
  statsEvery?: string;
  json?: boolean;
}

async function shaperAction(flags: ShaperFlags): Promise<number> {
  const target = parseTarget(flags.target);
  const rate = parseRate(flags.rate);
  const rateUp = flags.rateUp !== undefined ? parseRate(flags.rateUp) : undefined;
  const port = count(flags.listen, '--listen', 0);
  if (port > 65535) throw new SpiceError('usage', `--listen ${port}: a port is 0-65535`);
  const delayMs = flags.delayMs !== undefined ? millis(flags.delayMs, '--delay-ms') : 0;
  const burst = flags.burst !== undefined ? count(flags.burst, '--burst', 100) : undefined;
  const statsEvery = flags.statsEvery !== undefined ? millis(flags.statsEvery, '--stats-every', 0.001) * 1000 : 0;
  const shaper = new LinkShaper({ rate, rateUp, delayMs, burst });
  const listening = await shaper.listen(target, port);
  const t0 = performance.now();
  const rateText = (r: number | null | undefined) => (r === null || r === undefined ? 'unlimited' : `${Math.round(r)} B/s`);
  const line = (final: boolean) => {
    const c = shaper.counters;
    const s = (performance.now() - t0) / 1000;
    return `${final ? 'total' : 'stats'} t=${s.toFixed(1)}s connections=${c.connections} active=${c.active} up=${fmtBytes(c.up)} (${Math.round(c.up / s)} B/s) down=${fmtBytes(c.down)} (${Math.round(c.down / s)} B/s)`;
  };
  if (!flags.json) {
    const limited = rate !== null || (rateUp ?? null) !== null;
    printLine(`listening on 127.0.0.1:${listening} -> ${describeShaperTarget(target)}, down ${rateText(rate)}, up ${rateText(rateUp === undefined ? rate : rateUp)}${limited ? `, burst ${shaper.opts.burst ?? Math.max(shaper.down.slice, shaper.up.slice)} B` : ''}, delay ${delayMs} ms`);
  } else process.stderr.write(`listening on 127.0.0.1:${listening}\n`);
  return withSignals(async (signal) => {
    const ticker = statsEvery ? setInterval(() => process.stderr.write(`${line(false)}\n`), statsEvery) : undefined;
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    if (ticker) clearInterval(ticker);
    const c = shaper.counters;
    await shaper.close();
    if (flags.json) printJson({ listen: listening, target: describeShaperTarget(target), rate, rateUp: rateUp === undefined ? rate : rateUp, delayMs, seconds: (performance.now() - t0) / 1000, ...c });
    else printLine(line(true));
    return 0;
  });
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('measurements: USB recognition time, a WAN link emulator');
  const rec = bench
    .command('recognition')
    .description('time how fast the guest recognises a redirected USB device, over fresh sessions or hot-plugged into one (a matrix of compression x link limit)')
    .argument('<uri>', 'spice://host:port (see spicectl connect)');
  addConnectionOptions(rec)
    .option('--cd <iso>', 'an emulated USB CD-ROM backed by this ISO')
    .option('--disk <image>', 'an emulated USB stick backed by this disk image')
    .option('--ro', 'make the emulated disk read-only')
    .option('--usb-speed <speed>', 'bus speed of the emulated device: auto (SuperSpeed, high speed on a USB 2 controller), super, high or full', 'auto')
    .option('--no-uas', 'the emulated device offers Bulk-Only transport only, not USB Attached SCSI (UAS is offered at SuperSpeed)')
    .option('--device <selector>', 'a local device: vid:pid, bus-port (1-2.3) or serial:S')
    .option('--hotplug', 'keep one session and usbredir channel open per cell and plug the device into it for every run (t0 = the plug); default: a fresh session per run (t0 = before its TCP connect)')
    .option('--runs <n>', 'runs per cell', '5')
    .option('--compress <list>', 'usbredir LZ4: lz4, off or lz4,off', 'lz4')
    .option('--limit <list>', 'link rates for the WHOLE session, per direction: none, 30KB/s, ... (comma-separated)', 'none')
    .option('--delay-ms <ms>', 'one-way delay of the limited link')
    .option('--settle-ms <ms>', 'idle time after the last command that ends the recognition (not counted)', '1000')
    .option('--gap-ms <ms>', 'pause between runs when no guest log is followed', '1000')
    .option('--timeout <seconds>', 'a run that has not settled by then fails', '60')
    .option('--guest-log <file>', "the guest's serial log (followed from its size at each run start)")
    .option('--ready <regex>', 'guest oracle: the first line matching this is the true recognition time, e.g. "MARK mounted"')
    .option('--gone <regex>', 'the guest line that says the device is gone after a detach', 'MARK usb-detached')
    .option('--channel-ids <list>', 'usbredir channel ids to use (default: as usb redirect chooses)')
    .option('--all-channels', 'also open display, inputs and cursor, as a full viewer would')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--json', 'print every run and the summaries as JSON')
    .action(async (uri: string, flags: RecognitionFlags, c: Command) => {
      process.exitCode = await recognitionAction(uri, { ...(c.optsWithGlobals() as RecognitionFlags), ...flags });
    });
  bench
    .command('shaper')
    .description('a WAN link emulator: forwards TCP with one rate limit per direction shared by all connections, until Ctrl-C')
    .requiredOption('--target <host:port>', 'where to forward: PORT, HOST:PORT, [V6]:PORT or unix:/path')
    .option('--listen <port>', 'port on 127.0.0.1 (0 = any free one, printed)', '0')
    .option('--rate <rate>', 'per direction, e.g. 30KB/s, 240kbit/s, none', '30KB/s')
    .option('--rate-up <rate>', 'client->server rate when it differs from --rate')
    .option('--delay-ms <ms>', 'one-way delay')
    .option('--burst <bytes>', 'token bucket size (default max(1460, rate/20))')
    .option('--stats-every <seconds>', 'print byte counters to stderr this often')
    .option('--json', 'print the final counters as JSON')
    .action(async (flags: ShaperFlags) => {
      process.exitCode = await shaperAction(flags);
    });
}
