// USB throughput benchmark: the guest reads one big file from an emulated USB disk that
// `spicectl usb redirect --disk IMG` serves, with LZ4 on and off, beside the physical limit: the
// same image attached by QEMU itself as a local usb-storage device (QMP blockdev-add + device_add,
// removed with device_del + blockdev-del). One QEMU boot, runs interleaved (local, lz4, off, ...).
//
// Figures per run:
//   guest MB/s   = bytes (read-done's bytes=) / (uptime at read-done - uptime at mounted), from the
//                  guest's own MARK lines: `find -exec cat | wc -c` then an md5sum of every file;
//   device MB/s  = file size / (host time from "mounted" until the device had delivered the file's
//                  size), from QMP query-blockstats rd_bytes (local) or spicectl's --stats-interval
//                  payloadOut (redirected): the device phase without the guest's md5 (TCG is slow);
//   recognition  = host seconds from device_add / spicectl start to "mounted".
// Usage: node --import tsx bench/usb-throughput.ts [--runs N] [--size MiB] [--content mixed|random|text|zero]
//        [--controller xhci|ehci] [--configs local,lz4,off] [--json FILE]
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startQemu, type Mark, type QemuServer } from '../test/e2e/harness/index.js';
import { makeFatImage, textFile } from '../test/e2e/usb-images.js';
import { cpuSeconds, lastJson, startTimed, waitCommandPid } from './lib/proc.js';
import { fmt, median, numberOption, progress, ratio, spread, table } from './lib/stats.js';

const repo = join(import.meta.dirname, '..');
const BIN = join(repo, 'bin/spicectl.js');

const { values } = parseArgs({
  options: {
    runs: { type: 'string', short: 'n' },
    size: { type: 'string' },
    content: { type: 'string' },
    controller: { type: 'string' },
    configs: { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`usage: node --import tsx bench/usb-throughput.ts [options]
  -n, --runs N          runs per configuration (default 3)
      --size MiB        size of the file the guest reads (default 64)
      --content KIND    mixed (default: 1 MiB blocks alternating random / text), random, text, zero
      --controller C    xhci (default; QEMU's own usb-storage attaches at 5000 Mb/s there, the
                        redirected disk at 480) or ehci (both 480)
      --configs LIST    local,lz4,off (default all three)
      --json FILE       also write every run as JSON`);
  process.exit(0);
}
const RUNS = numberOption(values.runs, 3, '--runs', 1);
const SIZE_MIB = numberOption(values.size, 64, '--size', 1);
const CONTENT = values.content ?? 'mixed';
if (!['mixed', 'random', 'text', 'zero'].includes(CONTENT)) throw new Error(`--content must be mixed, random, text or zero, not "${CONTENT}"`);
const CONTROLLER = (values.controller ?? 'xhci') as 'xhci' | 'ehci';
if (CONTROLLER !== 'xhci' && CONTROLLER !== 'ehci') throw new Error('--controller must be xhci or ehci');
type Config = 'local' | 'lz4' | 'off';
const CONFIGS = (values.configs ?? 'local,lz4,off').split(',').filter(Boolean) as Config[];
for (const c of CONFIGS) if (!['local', 'lz4', 'off'].includes(c)) throw new Error(`unknown config "${c}"`);
if (!existsSync(join(repo, 'dist/src/main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(2);
}

const FILE_BYTES = SIZE_MIB << 20;
const TIMEOUT_MS = 60_000 + FILE_BYTES / 200; // >= 0.2 MB/s before we give up on a run

function payload(): Buffer {
  const text = textFile(1 << 20);
  const chunks: Buffer[] = [];
  for (let i = 0; i < SIZE_MIB; i++) {
    if (CONTENT === 'zero') chunks.push(Buffer.alloc(1 << 20));
    else if (CONTENT === 'text' || (CONTENT === 'mixed' && i % 2 === 1)) chunks.push(text);
    else chunks.push(randomBytes(1 << 20));
  }
  return Buffer.concat(chunks);
}

interface Run {
  config: Config;
  run: number;
  ok: boolean;
  error?: string;
  speed?: string;
  dev?: string;
  bytes?: number;
  guestS?: number;
  guestMBps?: number;
  deviceS?: number;
  deviceMBps?: number;
  recognitionS?: number;
  md5ok?: boolean;
  clientCpuReadS?: number;
  clientCpuTotalS?: number;
  clientRssMiB?: number;
  payloadOut?: number;
  wireOut?: number;
}

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-bench-usb-'));
progress(`making a FAT image with a ${SIZE_MIB} MiB ${CONTENT} file`);
const data = payload();
const md5 = createHash('md5').update(data).digest('hex');
const img = makeFatImage(tmp, 'disk.img', { 'payload.bin': data }, SIZE_MIB * 1024 + 8192);
readFileSync(img.path); // into the host's page cache: every configuration reads it from there
progress(`booting QEMU (TCG, ${CONTROLLER}, one usb-redir port)`);
const q = await startQemu({ usbredir: 1, controller: CONTROLLER, append: 'guest.delay_use=0 guest.ls=0' });
const uri = `spice://127.0.0.1:${q.port}`;
const runs: Run[] = [];
try {
  for (let i = 1; i <= RUNS; i++) {
    for (const c of CONFIGS) {
      progress(`run ${i}/${RUNS}: ${c}`);
      const r = c === 'local' ? await runLocal(i) : await runRedirect(c, i);
      runs.push(r);
      if (!r.ok) progress(`  failed: ${r.error}`);
      else progress(`  guest ${fmt(r.guestMBps, 2)} MB/s, device ${fmt(r.deviceMBps, 2)} MB/s${r.md5ok ? '' : ' (md5 MISMATCH)'}`);
    }
  }
} finally {
  await q.stop();
}
report();
if (values.json) writeFileSync(values.json, JSON.stringify({ sizeMiB: SIZE_MIB, content: CONTENT, controller: CONTROLLER, runs }, null, 2));
process.exit(0);

// ---------------------------------------------------------------------------------------------

/** The guest's SUM line for the payload on dev, between two offsets of the serial log. */
function guestMd5(dev: string, from: number, to: number): string | undefined {
  const log = readFileSync(q.serialLog).subarray(from, to).toString('utf8');
  return new RegExp(`^SUM ${dev} ([0-9a-f]{32})\\s+/mnt/${dev}/payload\\.bin`, 'mi').exec(log)?.[1];
}

function fromMarks(r: Run, attached: Mark, mounted: Mark, done: Mark): void {
  r.speed = attached.fields.speed;
  r.dev = mounted.fields.dev;
  r.bytes = Number(done.fields.bytes);
  r.guestS = done.uptime - mounted.uptime;
  r.guestMBps = r.bytes / 1e6 / r.guestS;
  r.md5ok = guestMd5(r.dev!, mounted.offset, done.offset) === md5;
}

/** Waits for the guest to forget the device (usb-detached, block-gone). */
async function waitGone(off: number): Promise<void> {
  await q.waitMark('usb-detached', 30_000, off);
  await q.waitMark('block-gone', 30_000, off).catch(() => undefined);
}

async function runLocal(i: number): Promise<Run> {
  const r: Run = { config: 'local', run: i, ok: false };
  const id = `benchdisk${i}`;
  const node = `benchnode${i}`;
  const off = q.serialSize();
  let added = false;
  try {
    await q.qmp('blockdev-add', { driver: 'raw', 'node-name': node, 'read-only': true, file: { driver: 'file', filename: img.path, 'read-only': true } });
    const t0 = Date.now();
    await q.qmp('device_add', { driver: 'usb-storage', id, drive: node, bus: 'usb.0' });
    added = true;
    const attached = await q.waitMark('usb-attached', 60_000, off);
    const mounted = await q.waitMark('mounted', 60_000, off);
    r.recognitionS = (mounted.seenAt - t0) / 1000;
    // Poll the device's read counter until it has delivered the file's size (or the guest is done).
    const rdBytes = async () => {
      const st = await q.qmp<{ qdev?: string; stats: { rd_bytes: number } }[]>('query-blockstats');
      return st.find((e) => (e.qdev ?? '').includes(`/${id}/`))?.stats.rd_bytes ?? NaN;
    };
    const base = await rdBytes();
    let deviceAt: number | undefined;
    let finished = false;
    const donePromise = q.waitMark(new RegExp(`MARK read-done \\S+ dev=${mounted.fields.dev} `), TIMEOUT_MS, mounted.offset).finally(() => (finished = true));
    while (!finished && deviceAt === undefined) {
      const n = await rdBytes();
      if (n - base >= FILE_BYTES) deviceAt = Date.now();
      else await sleep(25);
    }
    const done = await donePromise;
    fromMarks(r, attached, mounted, done);
    if (deviceAt !== undefined) {
      r.deviceS = (deviceAt - mounted.seenAt) / 1000;
      r.deviceMBps = FILE_BYTES / 1e6 / r.deviceS;
    }
    r.ok = true;
  } catch (e) {
    r.error = (e as Error).message.split('\n')[0];
  } finally {
    if (added) {
      await q.qmp('device_del', { id }).catch(() => undefined);
      await waitGone(off).catch(() => undefined);
    }
    for (let k = 0; k < 50; k++) {
      try {
        await q.qmp('blockdev-del', { 'node-name': node });
        break;
      } catch {
        await sleep(200);
      }
    }
  }
  return r;
}

interface StatsLine { t: number; usb?: { payloadOut: number; wireOut: number }[] }

async function runRedirect(mode: 'lz4' | 'off', i: number): Promise<Run> {
  const r: Run = { config: mode, run: i, ok: false };
  const off = q.serialSize();
  const t0 = Date.now();
  const p = startTimed(process.execPath, [BIN, 'usb', 'redirect', uri, '--disk', img.path, '--ro', '--compress', mode, '--json', '--stats-interval', '50'],
    { env: { ...process.env, CI: '1' }, timeoutMs: TIMEOUT_MS + 60_000 });
  let mounted: Mark | undefined;
  let cpu0: number | undefined;
  let cpu1: number | undefined;
  // A spicectl that exits early ends the run at once.
  const exited = p.done.then((res) => {
    throw new Error(`spicectl exited early (${res.code ?? res.signal})`);
  });
  exited.catch(() => undefined);
  const guarded = <T>(w: Promise<T>) => Promise.race([w, exited]);
  try {
    const pid = await waitCommandPid(p);
    const attached = await guarded(q.waitMark('usb-attached', 60_000, off));
    mounted = await guarded(q.waitMark('mounted', 60_000, off));
    cpu0 = cpuSeconds(pid);
    r.recognitionS = (mounted.seenAt - t0) / 1000;
    const done = await guarded(q.waitMark(new RegExp(`MARK read-done \\S+ dev=${mounted.fields.dev} `), TIMEOUT_MS, mounted.offset));
    cpu1 = cpuSeconds(pid);
    fromMarks(r, attached, mounted, done);
    r.ok = true;
  } catch (e) {
    r.error = (e as Error).message.split('\n')[0];
  }
  p.signal('SIGINT');
  const res = await p.done;
  await waitGone(off).catch(() => undefined);
  r.clientCpuTotalS = res.userS + res.sysS;
  r.clientRssMiB = res.maxRssKb / 1024;
  if (cpu0 !== undefined && cpu1 !== undefined) r.clientCpuReadS = cpu1 - cpu0;
  if (res.code !== 0) {
    r.ok = false;
    r.error ??= `spicectl exit ${res.code ?? res.signal}`;
  }
  if (!r.ok) r.error += ` (spicectl exit ${res.code ?? res.signal}; stderr: ${res.stderr.trim().split('\n').slice(-3).join(' | ') || '-'})`;
  const lines: StatsLine[] = res.stdout.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as StatsLine];
    } catch {
      return [];
    }
  }).filter((l) => typeof l.t === 'number' && Array.isArray(l.usb));
  const final = lastJson<{ usb?: { payloadOut: number; wireOut: number }[] }>(res.stdout);
  r.payloadOut = final?.usb?.[0]?.payloadOut;
  r.wireOut = final?.usb?.[0]?.wireOut;
  if (mounted && r.ok) {
    const base = lines.filter((l) => l.t <= mounted!.seenAt).at(-1)?.usb?.[0]?.payloadOut ?? 0;
    const full = lines.find((l) => (l.usb?.[0]?.payloadOut ?? 0) - base >= FILE_BYTES);
    if (full) {
      r.deviceS = (full.t - mounted.seenAt) / 1000;
      r.deviceMBps = FILE_BYTES / 1e6 / r.deviceS;
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------

function report(): void {
  const name: Record<Config, string> = {
    local: 'QEMU usb-storage, local (physical limit)',
    lz4: 'spicectl usb redirect --disk, LZ4 on',
    off: 'spicectl usb redirect --disk --compress off',
  };
  const ok = (c: Config) => runs.filter((r) => r.config === c && r.ok);
  const med = (c: Config, f: (r: Run) => number | undefined) => median(ok(c).map(f).filter((v): v is number => v !== undefined));
  const localGuest = med('local', (r) => r.guestMBps);
  const localDevice = med('local', (r) => r.deviceMBps);
  console.log(`spicectl USB throughput: the guest reads a ${SIZE_MIB} MiB ${CONTENT} file (payload.bin on FAT) from an emulated disk`);
  console.log(`QEMU 7.2 TCG, ${CONTROLLER}, usb-storage delay_use=0; ${RUNS} runs per configuration (min / median / max); ` +
    `load average at the end ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.log();
  console.log(table(
    ['configuration', 'speed', 'guest MB/s (read + md5)', 'vs local', 'device MB/s', 'vs local', 'start -> mounted s', 'md5', 'failed'],
    CONFIGS.map((c) => {
      const rs = ok(c);
      return [
        name[c],
        [...new Set(rs.map((r) => r.speed))].join(',') || '-',
        spread(rs.map((r) => r.guestMBps!), 2),
        c === 'local' ? '1.00x' : ratio(med(c, (r) => r.guestMBps), localGuest),
        spread(rs.map((r) => r.deviceMBps).filter((v): v is number => v !== undefined), 2),
        c === 'local' ? '1.00x' : ratio(med(c, (r) => r.deviceMBps), localDevice),
        spread(rs.map((r) => r.recognitionS!), 2),
        rs.length ? (rs.every((r) => r.md5ok) ? 'ok' : 'MISMATCH') : '-',
        String(runs.filter((r) => r.config === c && !r.ok).length),
      ];
    }),
  ));
  const redirected = CONFIGS.filter((c) => c !== 'local');
  if (redirected.length) {
    console.log();
    console.log(table(
      ['spicectl', 'CPU s during the read', 'CPU ms per MB', 'CPU s whole run', 'peak RSS MiB', 'payload MB out', 'wire MB out', 'LZ4 ratio'],
      redirected.map((c) => {
        const rs = ok(c);
        const cpuPerMb = rs.map((r) => (r.clientCpuReadS !== undefined && r.bytes ? (r.clientCpuReadS * 1000) / (r.bytes / 1e6) : NaN));
        return [
          name[c],
          spread(rs.map((r) => r.clientCpuReadS!).filter((v) => v !== undefined), 2),
          fmt(median(cpuPerMb), 1),
          fmt(med(c, (r) => r.clientCpuTotalS), 2),
          fmt(med(c, (r) => r.clientRssMiB), 0),
          fmt(med(c, (r) => (r.payloadOut ?? NaN) / 1e6), 1),
          fmt(med(c, (r) => (r.wireOut ?? NaN) / 1e6), 1),
          fmt(med(c, (r) => (r.payloadOut && r.wireOut ? r.payloadOut / r.wireOut : NaN)), 2),
        ];
      }),
    ));
  }
  for (const r of runs) if (!r.ok) console.log(`failed: ${r.config} run ${r.run}: ${r.error}`);
}
