// USB recognition time: spicectl vs the reference client (remote-viewer / spice-gtk) vs the
// physical limit (QEMU's own local USB CD), on one QEMU boot of the test guest, with the same
// ISO, on a free link and through a 30 KB/s link (LinkShaper: one token bucket per direction
// shared by every connection of the session, like the lab's ratelimit-proxy.py).
//
// Configurations (t0 -> the guest's MARK lines on its serial console, host time):
//   spicectl       `spicectl usb redirect URI --cd ISO`; t0 = process start; SIGTERM after the run
//   bench          `spicectl bench recognition URI --cd ISO --runs 1 --json` (its own fresh
//                  session; t0 = run start before the TCP connect: Node's start-up not included);
//                  adds the client-side timeline (usbredir up, first SCSI command, ...)
//   hotplug        `spicectl bench recognition URI --cd ISO --hotplug --runs 1 --json`: the
//                  session and its usbredir channel are up first; t0 = the plug (device_connect),
//                  like qemu-local's attach: a stick plugged into a thin client with a live session
//   hotplug-bot    the same with --no-uas: the CD offers Bulk-Only only (as qemu-local's usb-bot
//                  and spice-gtk's CD do), where by default it offers UAS too at SuperSpeed
//   remote-viewer  `remote-viewer --spice-share-cd=ISO --spice-usbredir-redirect-on-connect=
//                  "-1,0x2b23,0xcdcd,-1,1" URI` under a private Xvfb; t0 = process start; SIGTERM
//   qemu-local     QMP blockdev-add + device_add usb-bot + scsi-cd, t0 = qom-set attached=true
//                  (no network: measured on the free link only)
// Runs are interleaved (run 1 of every configuration, then run 2, ...), after one discarded round
// of every configuration on the free link (--warmup-runs); after each the device is
// detached and the guest's usb-detached awaited. Medians of the guest's "mounted" give the ratios
// against the targets: free link spicectl <= 1.10 x qemu-local and <= 0.85 x remote-viewer;
// 30 KB/s spicectl <= 0.5 x remote-viewer. Each ratio is printed for every spicectl configuration
// whose t0 matches the other side's: process start (spicectl) and run start (bench) against
// remote-viewer's process start, and all three against qemu-local's attach, the plug (hotplug)
// being the like-for-like one.
//
// Usage: npm run build && node --import tsx bench/recognition.ts [--runs N=9] [--slow-runs N=5, or --runs if given]
//          [--skip-slow] [--rate 30KB/s] [--payload-kib 4096] [--append 'guest.delay_use=0 guest.read=0']
//          [--configs spicectl,bench,hotplug,hotplug-bot,remote-viewer,qemu-local] [--controller xhci|ehci]
//          [--timeout S=60] [--slow-timeout S=180] [--pause-ms MS=1500] [--order interleaved|blocks]
//          [--qemu-trace 'usb_xhci_*,scsi_req_parsed'] [--warmup-runs N=1] [--out DIR] [--json FILE]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { QmpClient, startQemu, type QemuServer } from '../test/e2e/harness/index.js';
import { spawnGroup, type Spawned } from '../test/e2e/harness/proc.js';
import { makeIso } from '../test/e2e/usb-images.js';
import { GuestLog, fileSize } from '../src/bench/guest-log.js';
import { renderTable } from '../src/bench/matrix.js';
import { LinkShaper } from '../src/bench/shaper.js';
import { fmtSummary, ratio, summarize, type Summary } from '../src/bench/stats.js';
import { POINTS } from '../src/bench/timeline.js';
import { parseRate } from '../src/session/limiter.js';

const repo = join(import.meta.dirname, '..');
const BIN = join(repo, 'bin/spicectl.js');
const CONFIGS = ['spicectl', 'bench', 'hotplug', 'hotplug-bot', 'remote-viewer', 'qemu-local'] as const;
type BenchConfig = 'bench' | 'hotplug' | 'hotplug-bot';
const isBench = (c: Config): c is BenchConfig => c === 'bench' || c === 'hotplug' || c === 'hotplug-bot';
type Config = (typeof CONFIGS)[number];

/** A bad option: one line on stderr, exit 2. */
function usage(message: string): never {
  process.stderr.write(`bench/recognition: ${message}\n`);
  process.exit(2);
}
function parseOptions() {
  try {
    return parseArgs({
      options: {
        runs: { type: 'string', short: 'n' },
        'slow-runs': { type: 'string' },
        'skip-slow': { type: 'boolean' },
        rate: { type: 'string' },
        'payload-kib': { type: 'string' },
        append: { type: 'string' },
        configs: { type: 'string' },
        controller: { type: 'string' },
        timeout: { type: 'string' },
        'pause-ms': { type: 'string' },
        order: { type: 'string' },
        'qemu-trace': { type: 'string' },
        'warmup-runs': { type: 'string' },
        'slow-timeout': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return usage((e as Error).message.replace(/\s*\n\s*/g, ' '));
  }
}
const { values: a } = parseOptions();
if (a.help) {
  process.stdout.write(`usage: node --import tsx bench/recognition.ts [--runs N=9] [--slow-runs N=5, or --runs if given] [--skip-slow] [--rate 30KB/s]
  [--payload-kib 4096] [--append 'guest.delay_use=0 guest.read=0'] [--configs ${CONFIGS.join(',')}]
  [--controller xhci|ehci] [--timeout S=60] [--slow-timeout S=180] [--pause-ms MS=1500] [--order interleaved|blocks]
  [--qemu-trace EVENT,...] [--warmup-runs N=1] [--out DIR] [--json FILE]
`);
  process.exit(0);
}
const int = (v: string | undefined, d: number, what: string) => {
  const n = v === undefined ? d : Number(v);
  if (!Number.isInteger(n) || n < 1) usage(`${what} must be a whole number >= 1`);
  return n;
};
// Between two runs of this script, 5-run medians of the free link moved by +-0.03-0.05 s (the
// guest's own time varies run to run): 9 runs there, 5 at 30 KB/s where runs are long and the
// margin wide.
const runs = int(a.runs, 9, '--runs');
const slowRuns = int(a['slow-runs'], a.runs === undefined ? 5 : runs, '--slow-runs');
const rateText = a.rate ?? '30KB/s';
const rate = parseRate(rateText);
if (rate === null) usage('--rate must be a rate, e.g. 30KB/s');
const payloadKib = int(a['payload-kib'], 4096, '--payload-kib');
const append = a.append ?? 'guest.delay_use=0 guest.read=0';
const configs = (a.configs ?? CONFIGS.join(',')).split(',').map((s) => s.trim()).filter(Boolean) as Config[];
for (const c of configs) if (!CONFIGS.includes(c)) usage(`unknown configuration ${c} (known: ${CONFIGS.join(', ')})`);
const timeoutMs = int(a.timeout, 60, '--timeout') * 1000;
// Idle guest time before every run, whatever came before: a device's removal leaves the guest
// kernel busy for a while, which would otherwise bill it to the next configuration.
const pauseMs = a['pause-ms'] === undefined ? 1500 : Number(a['pause-ms']);
if (!Number.isFinite(pauseMs) || pauseMs < 0) usage('--pause-ms must be a number of milliseconds >= 0');
// interleaved (default) spreads slow drifts over every configuration; blocks keeps each
// configuration's runs together (a device's removal changes how fast the guest handles the next
// different device: see bench/README.md).
const order = a.order ?? 'interleaved';
if (order !== 'interleaved' && order !== 'blocks') usage('--order must be interleaved or blocks');
// QEMU trace events (patterns as in -trace help), logged with host timestamps to OUT/qemu-trace.log:
// the controller's and device's view of each enumeration, for QEMU-local and redirected alike.
const qemuTrace = (a['qemu-trace'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
// QEMU only warns about a pattern that names no event (and then logs nothing): refuse it here.
if (qemuTrace.length) {
  const known = execFileSync('qemu-system-x86_64', ['-trace', 'help'], { encoding: 'utf8' }).split('\n').map((l) => l.trim());
  for (const pat of qemuTrace) {
    const re = new RegExp(`^${pat.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    if (!known.some((e) => re.test(e))) usage(`--qemu-trace: no QEMU trace event matches ${pat} (see qemu-system-x86_64 -trace help)`);
  }
}
// Discarded rounds of every configuration before the free-link runs: in the first recognition
// after boot TCG translates the guest's SCSI, sr/sd and file-system code, whatever the device;
// counted, it slows whichever configuration runs first (hotplug: ~0.51 s against ~0.45 s).
const warmupRuns = a['warmup-runs'] === undefined ? 1 : Number(a['warmup-runs']);
if (!Number.isInteger(warmupRuns) || warmupRuns < 0) usage('--warmup-runs must be a whole number >= 0');
const slowTimeoutMs = int(a['slow-timeout'], 180, '--slow-timeout') * 1000;
const out = a.out ?? join(tmpdir(), 'spicectl-bench-recognition');
mkdirSync(out, { recursive: true });
if (!existsSync(join(repo, 'dist/src/commands/bench.js'))) usage('build first: npm run build');

// Guest marks of one recognition; with guest.read=1 also read-done.
const MARKS = ['usb-attached', 'block-ready', 'mounted', ...(/(guest|lab)\.read=0/.test(append) ? [] : ['read-done'])];
const LAST = MARKS[MARKS.length - 1]!;

interface Run {
  link: 'free' | 'slow';
  config: Config;
  run: number;
  ok: boolean;
  error?: string;
  /** ms from t0 */
  marks: Record<string, number>;
  /** bench only: the client-side timeline, ms from its own t0 */
  timeline?: Record<string, number | null>;
  /** bench only: spicectl's own time holding the guest's requests (received -> reply written) */
  client?: { turns: number; ms: number } | null;
}

const results: Run[] = [];
const log = (s: string) => process.stderr.write(`${s}\n`);

// ---- the ISO: 4 MiB of seeded pseudo-random bytes (incompressible) + 2 text files, like mkiso.sh
function seeded(bytes: number, seed = 42): Buffer {
  const b = Buffer.alloc(bytes);
  let s = seed >>> 0;
  for (let i = 0; i < bytes; i += 4) {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    b.writeUInt32LE((t ^ (t >>> 14)) >>> 0, i);
  }
  return b;
}
const iso = makeIso(out, 'test.iso', {
  'payload.bin': seeded(payloadKib * 1024),
  'README.TXT': Buffer.from('spicectl lab test ISO\n'),
  'BUILT.TXT': Buffer.from(`payload_kib=${payloadKib}\n`),
});
log(`ISO ${iso.path} (${fileSize(iso.path)} bytes)`);

// ---- spicectl bench: the real binary once main.ts registers it, else the same program + registerBench
async function benchCommand(): Promise<string[]> {
  const probe = await runToEnd(process.execPath, [BIN, 'bench', '--help'], 30_000);
  if (probe.code === 0 && /recognition/.test(probe.stdout)) return [BIN];
  const wrapper = join(out, 'spicectl-with-bench.mjs');
  const dist = (p: string) => pathToFileURL(join(repo, 'dist/src', p)).href;
  writeFileSync(wrapper, `import { buildProgram } from '${dist('main.js')}';
import { registerBench } from '${dist('commands/bench.js')}';
import { SpiceError } from '${dist('util/errors.js')}';
const program = await buildProgram(process.argv);
if (!program.commands.some((c) => c.name() === 'bench')) registerBench(program);
try { await program.parseAsync(process.argv); } catch (e) {
  if (e instanceof SpiceError) { process.stderr.write('spicectl: ' + e.message + '\\n'); process.exitCode = e.exitCode; } else throw e;
}
`);
  log('(bench is not registered in main.ts yet: using dist/src/commands/bench.js through a wrapper)');
  return [wrapper];
}

function runToEnd(cmd: string, args: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// ---- a private X server for remote-viewer
async function startXvfb(): Promise<{ display: string; proc: Spawned }> {
  let n = 40;
  while (existsSync(`/tmp/.X${n}-lock`) || existsSync(`/tmp/.X11-unix/X${n}`)) n++;
  const proc = spawnGroup('Xvfb', [`:${n}`, '-screen', '0', '1280x900x24', '-nolisten', 'tcp'], { logFile: join(out, 'xvfb.log') });
  for (let i = 0; i < 100 && !existsSync(`/tmp/.X11-unix/X${n}`); i++) await sleep(50);
  if (!existsSync(`/tmp/.X11-unix/X${n}`)) throw new Error(`Xvfb :${n} did not start (see ${out}/xvfb.log)`);
  return { display: `:${n}`, proc };
}

/** Waits for the marks in order (each after the previous); returns ms from the log's t0. */
async function waitMarks(g: GuestLog, deadline: number, signal?: AbortSignal): Promise<{ marks: Record<string, number>; error?: string }> {
  const marks: Record<string, number> = {};
  let from = 0;
  for (const m of MARKS) {
    const hit = await g.waitFor(new RegExp(`MARK ${m}\\b`), Math.max(1, deadline - performance.now()), from, signal);
    if (!hit) return { marks, error: signal?.aborted ? String(signal.reason) : `no "MARK ${m}" within ${Math.round((deadline - g.t0) / 1000)} s` };
    if (/MARK mount-failed/.test(g.lines.map((l) => l.line).join('\n'))) return { marks, error: 'the guest could not mount it' };
    marks[m] = hit.t;
    from = g.lines.indexOf(hit);
  }
  return { marks };
}

/** After a detach: the guest's usb-detached, then a quiet log. */
async function waitGone(q: QemuServer, offset: number): Promise<boolean> {
  const g = new GuestLog(q.serialLog, performance.now(), offset).start();
  try {
    const hit = await g.waitFor(/MARK usb-detached\b/, 20_000);
    await g.waitQuiet(300, 3000);
    return hit !== null;
  } finally {
    g.stop();
  }
}

/** A client process measured from its start to the guest's marks, then stopped with SIGTERM. */
async function runClient(q: QemuServer, link: Run['link'], config: 'spicectl' | 'remote-viewer', run: number, port: number, display: string | null): Promise<Run> {
  const uri = `spice://127.0.0.1:${port}`;
  const offset = fileSize(q.serialLog);
  const logFd = openSync(join(out, `${link}-${config}-${run}.log`), 'w');
  const t0 = performance.now();
  const child: ChildProcess = config === 'spicectl'
    ? spawn(process.execPath, [BIN, 'usb', 'redirect', uri, '--cd', iso.path], { stdio: ['ignore', logFd, logFd], detached: true })
    : spawn('remote-viewer', [`--spice-share-cd=${iso.path}`, '--spice-usbredir-redirect-on-connect=-1,0x2b23,0xcdcd,-1,1', uri], {
        stdio: ['ignore', logFd, logFd], detached: true, env: { ...process.env, DISPLAY: display! },
      });
  closeSync(logFd);
  const early = new AbortController();
  const exited = new Promise<void>((r) => child.once('exit', (code, sig) => {
    early.abort(`${config} exited early (${code ?? sig}); see ${out}/${link}-${config}-${run}.log`);
    r();
  }));
  const g = new GuestLog(q.serialLog, t0, offset).start();
  const r = await waitMarks(g, t0 + (link === 'slow' ? slowTimeoutMs : timeoutMs), early.signal);
  g.stop();
  const detachFrom = fileSize(q.serialLog);
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    /* gone */
  }
  await Promise.race([exited, sleep(10_000)]);
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* gone */
  }
  if (Object.keys(r.marks).length && !(await waitGone(q, detachFrom))) log(`  (${config} run ${run}: no usb-detached after the stop)`);
  return { link, config, run, ok: !r.error, error: r.error, marks: r.marks };
}

/** One run of `spicectl bench recognition` (its own session, shaper and detach wait); with
 *  hotplug, timed from the plug into the session's open usbredir channel. */
async function runBench(q: QemuServer, cmd: string[], link: Run['link'], run: number, config: BenchConfig = 'bench'): Promise<Run> {
  const args = [...cmd, 'bench', 'recognition', `spice://127.0.0.1:${q.port}`, '--cd', iso.path, '--runs', '1',
    ...(config !== 'bench' ? ['--hotplug'] : []),
    ...(config === 'hotplug-bot' ? ['--no-uas'] : []),
    '--guest-log', q.serialLog, '--ready', `MARK ${LAST}\\b`, '--no-progress', '--json',
    '--timeout', String((link === 'slow' ? slowTimeoutMs : timeoutMs) / 1000)];
  if (link === 'slow') args.push('--limit', rateText);
  const r = await runToEnd(process.execPath, args, (link === 'slow' ? slowTimeoutMs : timeoutMs) + 60_000);
  writeFileSync(join(out, `${link}-${config}-${run}.json`), r.stdout + r.stderr);
  let j: { cells?: { runs: { ok: boolean; error?: { message: string }; marks: Record<string, number>; timeline: Record<string, number | null>; client: Run['client'] }[] }[] };
  try {
    j = JSON.parse(r.stdout);
  } catch {
    return { link, config, run, ok: false, error: `exit ${r.code}: ${r.stderr.trim().split('\n').pop()}`, marks: {} };
  }
  const one = j.cells?.[0]?.runs[0];
  if (!one) return { link, config, run, ok: false, error: 'no run in the JSON', marks: {} };
  const marks = Object.fromEntries(MARKS.filter((m) => one.marks[m] !== undefined).map((m) => [m, one.marks[m]!]));
  return { link, config, run, ok: one.ok && Object.keys(marks).length === MARKS.length, error: one.error?.message, marks, timeline: one.timeline, client: one.client };
}

/** QEMU's own USB CD with the same ISO: t0 = qom-set attached=true. */
let localSeq = 0;
async function runLocal(q: QemuServer, events: QmpClient, run: number): Promise<Run> {
  const i = ++localSeq;
  await q.qmp('blockdev-add', { driver: 'raw', 'node-name': `bcd${i}`, 'read-only': true, file: { driver: 'file', filename: iso.path, 'read-only': true } });
  await q.qmp('device_add', { driver: 'usb-bot', id: `bbot${i}`, bus: 'usb.0' });
  await q.qmp('device_add', { driver: 'scsi-cd', id: `bcdd${i}`, bus: `bbot${i}.0`, lun: 0, drive: `bcd${i}` });
  const offset = fileSize(q.serialLog);
  const t0 = performance.now();
  await q.qmp('qom-set', { path: `/machine/peripheral/bbot${i}`, property: 'attached', value: true });
  const g = new GuestLog(q.serialLog, t0, offset).start();
  const r = await waitMarks(g, t0 + timeoutMs);
  g.stop();
  const detachFrom = fileSize(q.serialLog);
  // device_del of usb-bot emits DEVICE_DELETED for the scsi-cd child first: wait for the bot's.
  const deleted = events.waitEvent('DEVICE_DELETED', (e) => e.data?.device === `bbot${i}`, 15_000);
  await q.qmp('device_del', { id: `bbot${i}` });
  await deleted.catch(() => log(`  (local run ${run}: no DEVICE_DELETED)`));
  await waitGone(q, detachFrom);
  await q.qmp('blockdev-del', { 'node-name': `bcd${i}` }).catch(() => {});
  return { link: 'free', config: 'qemu-local', run, ok: !r.error, error: r.error, marks: r.marks };
}

// ---- the experiment
const traceArgs = qemuTrace.length
  ? [...qemuTrace.flatMap((e) => ['-trace', `enable=${e}`]), '-D', join(out, 'qemu-trace.log'), '-msg', 'timestamp=on']
  : [];
const q = await startQemu({ usbredir: 1, append, controller: (a.controller as 'xhci' | 'ehci' | undefined) ?? 'xhci', extraArgs: traceArgs });
if (qemuTrace.length) log(`QEMU trace: ${join(out, 'qemu-trace.log')}`);
log(`QEMU on 127.0.0.1:${q.port}, boot ${((q.bootMs ?? 0) / 1000).toFixed(1)} s, append '${append}', state ${q.stateDir}`);
let xvfb: { display: string; proc: Spawned } | null = null;
let shaper: LinkShaper | null = null;
let events: QmpClient | null = null;
const cleanup = async () => {
  events?.close();
  await shaper?.close();
  await xvfb?.proc.stop();
  await q.stop();
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
try {
  if (configs.includes('remote-viewer')) xvfb = await startXvfb();
  if (configs.includes('qemu-local')) events = await QmpClient.connect(q.qmpEventsSocket);
  const cmd = configs.some(isBench) ? await benchCommand() : [];
  const links: Run['link'][] = a['skip-slow'] ? ['free'] : ['free', 'slow'];
  for (const link of links) {
    let port = q.port;
    if (link === 'slow') {
      shaper = new LinkShaper({ rate });
      port = await shaper.listen({ host: '127.0.0.1', port: q.port });
    }
    const n = link === 'slow' ? slowRuns : runs;
    const cfgs = configs.filter((c) => link === 'free' || c !== 'qemu-local');
    log(`== ${link === 'free' ? 'free link' : `${rateText} link (shaper 127.0.0.1:${port})`}: ${n} run(s) of ${cfgs.join(', ')}`);
    // interleaved: run 1 of every configuration, run 2, ...; blocks: every run of one, then the next
    const schedule = order === 'blocks'
      ? cfgs.flatMap((config) => Array.from({ length: n }, (_, i) => ({ run: i + 1, config })))
      : Array.from({ length: n }, (_, i) => cfgs.map((config) => ({ run: i + 1, config }))).flat();
    const warmup = link === 'free' ? Array.from({ length: warmupRuns }, () => cfgs.map((config) => ({ run: 0, config }))).flat() : [];
    for (const { run, config } of [...warmup, ...schedule]) {
      await sleep(pauseMs);
      const t = performance.now();
      const r = isBench(config) ? await runBench(q, cmd, link, run, config)
        : config === 'qemu-local' ? await runLocal(q, events!, run)
        : await runClient(q, link, config, run, port, xvfb?.display ?? null);
      if (run > 0) results.push(r);
      const ms = (m: string) => (r.marks[m] === undefined ? '-' : (r.marks[m]! / 1000).toFixed(3));
      log(`  ${link} ${config.padEnd(13)} ${run > 0 ? `#${run}` : 'warm-up'} ${r.ok ? 'ok ' : 'FAIL'} ${MARKS.map((m) => `${m}=${ms(m)}`).join(' ')}${r.error ? ` (${r.error})` : ''} [${((performance.now() - t) / 1000).toFixed(1)} s]`);
    }
    if (shaper) log(`  shaper: ${JSON.stringify(shaper.counters)}`);
  }
} finally {
  await cleanup();
}

// ---- report
const summaryOf = (link: Run['link'], config: Config, mark: string): Summary =>
  summarize(results.filter((r) => r.link === link && r.config === config && r.ok).map((r) => r.marks[mark]));
const lines: string[] = [];
const say = (s = '') => lines.push(s);
say(`USB recognition, seconds from t0 (min / median / max); ISO ${fileSize(iso.path)} bytes; guest '${append}'; QEMU TCG`);
for (const link of ['free', 'slow'] as const) {
  const cfgs = configs.filter((c) => results.some((r) => r.link === link && r.config === c));
  if (!cfgs.length) continue;
  say();
  say(link === 'free' ? 'free link (loopback)' : `${rateText} per direction, whole session through the link shaper`);
  const rows = [['config (ok/runs)', ...MARKS]];
  for (const c of cfgs) {
    const all = results.filter((r) => r.link === link && r.config === c);
    rows.push([`${c} (${all.filter((r) => r.ok).length}/${all.length})`, ...MARKS.map((m) => fmtSummary(summaryOf(link, c, m)))]);
  }
  for (const l of renderTable(rows)) say(l);
  for (const [c, t0] of [['bench', 'run start before the TCP connect'], ['hotplug', 'the plug'], ['hotplug-bot', 'the plug']] as const) {
    const benchRuns = results.filter((r) => r.link === link && r.config === c && r.ok && r.timeline);
    if (!benchRuns.length) continue;
    say(`  spicectl's own timeline (${c}, t0 = ${t0}):`);
    const tl = POINTS.filter((p) => benchRuns.some((r) => r.timeline![p.key] !== null))
      .map((p) => [`    ${p.label}`, fmtSummary(summarize(benchRuns.map((r) => r.timeline![p.key])))]);
    const client = benchRuns.filter((r) => r.client);
    if (client.length) {
      const turns = summarize(client.map((r) => r.client!.turns)).median ?? 0;
      tl.push([`    spicectl's own time (${Math.round(turns)} replies)`, fmtSummary(summarize(client.map((r) => r.client!.ms)))]);
    }
    for (const l of renderTable(tl)) say(l);
  }
}
const med = (link: Run['link'], c: Config) => summaryOf(link, c, 'mounted').median;
const check = (label: string, r: number | null, limit: number) =>
  say(`  ${label.padEnd(56)} ${r === null ? '   -' : r.toFixed(2)}  <= ${limit.toFixed(2)}  ${r === null ? 'NO DATA' : r <= limit ? 'PASS' : 'FAIL'}`);
say();
say('targets (ratios of the medians of the guest\'s "mounted"):');
for (const c of ['spicectl', 'bench', 'hotplug', 'hotplug-bot'] as const) {
  if (!configs.includes(c)) continue;
  const t0 = c === 'spicectl' ? 'process start' : c === 'bench' ? 'run start' : 'plug';
  check(`free: ${c} (${t0}) / qemu-local (attach)`, ratio(med('free', c), med('free', 'qemu-local')), 1.1);
  // remote-viewer is timed from its process start: only a client timed the same way compares.
  if (c === 'hotplug' || c === 'hotplug-bot') continue;
  check(`free: ${c} (${t0}) / remote-viewer`, ratio(med('free', c), med('free', 'remote-viewer')), 0.85);
  if (!a['skip-slow']) check(`${rateText}: ${c} (${t0}) / remote-viewer`, ratio(med('slow', c), med('slow', 'remote-viewer')), 0.5);
}
// What a client that took no time at all would get: each run's "mounted" minus the time
// spicectl held the guest's requests. The rest of each round trip is QEMU's usb-redir,
// spice-server, the loopback and the guest waking up, which no client can remove.
const withoutClient = (c: Config) =>
  summarize(results.filter((r) => r.link === 'free' && r.config === c && r.ok && r.client).map((r) => r.marks.mounted! - r.client!.ms)).median;
const bounds = (['hotplug', 'hotplug-bot'] as const)
  .filter((c) => configs.includes(c))
  .map((c) => [c, ratio(withoutClient(c), med('free', 'qemu-local'))] as const)
  .filter(([, r]) => r !== null);
if (bounds.length) {
  say();
  say('the same, less spicectl\'s own time (a client that took none; not a target):');
  for (const [c, r] of bounds) say(`  ${`free: ${c} (plug) less own time / qemu-local (attach)`.padEnd(56)} ${r!.toFixed(2)}`);
}
process.stdout.write(`${lines.join('\n')}\n`);
const jsonFile = a.json ?? join(out, 'results.json');
writeFileSync(jsonFile, JSON.stringify({ iso: { path: iso.path, bytes: fileSize(iso.path), payloadKib }, append, rate, runs, slowRuns, marks: MARKS, results }, null, 2));
log(`every run: ${jsonFile}; client logs in ${out}`);
