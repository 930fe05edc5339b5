// Display benchmark: spicectl against the reference client (spice-gtk 0.42) on ONE Xspice server
// and scene, in one run, interleaved run by run:
//   (a) time to the first complete frame: `spicectl connect --check` / `--screenshot` vs
//       `spicy-screenshot` (wall time of the process, N runs), plus spicectl's in-process
//       first-frame time and a pixel comparison of the two screenshots;
//   (b) CPU seconds and peak RSS over a fixed animated workload of T seconds:
//       `spicectl connect --duration` vs `spicy-stats` (a headless spice-gtk client: its display
//       channel decodes and draws every update, like spicectl's);
//   (c) decoder throughput (megapixels/s) per codec on test/fixtures/display/*.bin and on live
//       captures of this run's static scene (LZ4, spicectl's default codec, has no fixture), with a
//       native reference where the same algorithm is available natively in this process.
// Usage: node --import tsx bench/display.ts [--runs N] [--duration T] [--workloads images,video]
//        [--parts a,b,c] [--decode-ms MS] [--json FILE]
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startXspice, xEnv, run, isListening, alive, waitWindow, type XspiceServer } from '../test/e2e/harness/index.js';
import { spawnGroup, type Spawned } from '../test/e2e/harness/proc.js';
import { Session } from '../src/session/session.js';
import { ImageCompression } from '../src/session/wire/enums.js';
import { decodePng } from '../src/render/outputs/png.js';
import { benchDecode, loadRecording, nativeBitmapCopy, nativeLz4, readRecording, recordingImages, writeRecording, type BenchImage, type CodecResult, type NativeReference, type RecordedMessage } from './lib/decode.js';
import { cpuSeconds, lastJson, startTimed, waitCommandPid, type TimedResult } from './lib/proc.js';
import { fmt, median, numberOption, progress, ratio, spread, table } from './lib/stats.js';

const repo = join(import.meta.dirname, '..');
const BIN = join(repo, 'bin/spicectl.js');
const FIXTURES = join(repo, 'test/fixtures/display');

const { values } = parseArgs({
  options: {
    runs: { type: 'string', short: 'n' },
    duration: { type: 'string', short: 't' },
    workloads: { type: 'string' },
    parts: { type: 'string' },
    'decode-ms': { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`usage: node --import tsx bench/display.ts [options]
  -n, --runs N            first-frame runs per client (default 6)
  -t, --duration T        seconds of animated workload per client (default 6)
      --workloads LIST    images,video (default both): "images" animates below the server's
                          video-stream detection (4 fps), "video" above it (10 fps -> MJPEG stream)
      --parts LIST        a,b,c (default all): first frame, CPU/RSS, decoders
      --decode-ms MS      minimum decoding time per recording (default 400)
      --json FILE         also write every figure as JSON`);
  process.exit(0);
}
const RUNS = numberOption(values.runs, 6, '--runs', 1);
const T = numberOption(values.duration, 6, '--duration', 1);
const WORKLOADS = (values.workloads ?? 'images,video').split(',').filter(Boolean) as ('images' | 'video')[];
for (const w of WORKLOADS) if (w !== 'images' && w !== 'video') throw new Error(`unknown workload "${w}"`);
const PARTS = new Set((values.parts ?? 'a,b,c').split(','));
const DECODE_MS = numberOption(values['decode-ms'], 400, '--decode-ms', 10);

for (const tool of ['spicy-screenshot', 'spicy-stats', 'Xspice', '/usr/bin/time', 'animate', 'xdotool']) {
  try {
    await run(tool.startsWith('/') ? 'test' : 'which', tool.startsWith('/') ? ['-x', tool] : [tool]);
  } catch {
    console.error(`bench/display.ts needs ${tool} (scripts/install-deps.sh / the lab's install.sh)`);
    process.exit(2);
  }
}
warnIfStale();

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-bench-display-'));
const results: Record<string, unknown> = { host: hostFacts(), runs: RUNS, durationS: T };
const out: string[] = [];
const print = (s = '') => {
  out.push(s);
  console.log(s);
};

progress('starting Xspice (static scene: xterm text, 400x300 plasma image, xlogo; 1024x768)');
const x = await startXspice({ content: 'static' });
const uri = `spice://127.0.0.1:${x.port}`;
const env: NodeJS.ProcessEnv = { ...process.env, CI: '1' };
delete env.SPICE_PASSWORD;
const liveCaptures: { name: string; msgs: RecordedMessage[] }[] = [];

try {
  print(`spicectl display benchmark: Xspice ${x.width}x${x.height} on ${uri}, ${RUNS} runs, ${T} s workloads`);
  print(`host: ${(results.host as { cpus: string }).cpus}; load before: ${(results.host as { load: string }).load}`);
  if (PARTS.has('a')) await firstFrame();
  if (PARTS.has('c')) await captureLive();
  if (PARTS.has('b')) await workloads();
} finally {
  await x.stop();
}
if (PARTS.has('c')) decoders();
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
process.exit(0);

// ---------------------------------------------------------------------------------------------

function warnIfStale(): void {
  const dist = join(repo, 'dist/src/main.js');
  if (!existsSync(dist)) {
    console.error('dist/ is missing: run `npm run build` first');
    process.exit(2);
  }
  const newest = (dir: string): number => readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = join(dir, e.name);
    return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);
  if (newest(join(repo, 'src')) > statSync(dist).mtimeMs + 1000) progress('warning: src/ is newer than dist/: `npm run build` to measure the current code');
}

function hostFacts(): { cpus: string; load: string; node: string } {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? '?';
  const n = cpuinfo.split('\n').filter((l) => l.startsWith('processor')).length;
  return { cpus: `${n} x ${model}`, load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '), node: process.version };
}

function serverAlive(): boolean {
  return alive(x.xorgPid) && isListening(x.port);
}

function assertServer(what: string): void {
  if (!serverAlive()) {
    throw new Error(`the Xspice server died during ${what} (see ${x.stateDir}/xspice.log); remaining parts skipped`);
  }
}

// ---------------------------------------------------------------------------------------------
// (a) first complete frame

interface Variant {
  name: string;
  cmd: string;
  args: (i: number) => string[];
  ok: (r: TimedResult, i: number) => boolean;
  inProcess?: (r: TimedResult) => number | undefined;
}

async function firstFrame(): Promise<void> {
  const png = (i: number) => join(tmp, `spicectl-${i}.png`);
  const ppm = (i: number) => join(tmp, `ref-${i}.ppm`);
  const firstFrameMs = (r: TimedResult) => lastJson<{ timings?: { firstFrameMs?: number } }>(r.stdout)?.timings?.firstFrameMs ?? undefined;
  const variants: Variant[] = [
    {
      name: 'spicectl connect --check (lz4)', cmd: process.execPath,
      args: () => [BIN, 'connect', uri, '--check', '--json', '--timeout', '20'],
      ok: (r) => r.code === 0, inProcess: firstFrameMs,
    },
    {
      name: 'spicectl connect --check (server codecs)', cmd: process.execPath,
      args: () => [BIN, 'connect', uri, '--check', '--json', '--timeout', '20', '--preferred-compression', 'server'],
      ok: (r) => r.code === 0, inProcess: firstFrameMs,
    },
    {
      name: 'spicectl connect --screenshot --settle 0', cmd: process.execPath,
      args: (i) => [BIN, 'connect', uri, '--screenshot', png(i), '--settle', '0', '--json', '--timeout', '20'],
      ok: (r, i) => r.code === 0 && existsSync(png(i)), inProcess: firstFrameMs,
    },
    {
      name: 'spicy-screenshot (reference)', cmd: 'spicy-screenshot',
      args: (i) => ['-h', '127.0.0.1', '-p', String(x.port), '-o', ppm(i)],
      ok: (r, i) => r.code === 0 && existsSync(ppm(i)),
    },
    {
      name: 'node startup floor (spicectl --version)', cmd: process.execPath,
      args: () => [BIN, '--version'], ok: (r) => r.code === 0,
    },
  ];
  const res = variants.map(() => ({ wall: [] as number[], inProc: [] as number[], cpu: [] as number[], rss: [] as number[], failures: 0 }));
  progress(`(a) first frame: ${variants.length - 1} clients x ${RUNS} runs (+1 warm-up), interleaved`);
  for (let i = -1; i < RUNS; i++) {
    for (const [k, v] of variants.entries()) {
      const p = startTimed(v.cmd, v.args(i + 1), { env, timeoutMs: 30_000 });
      const r = await p.done;
      await sleep(150); // let the server see the disconnect before the next client
      if (i < 0) continue;
      const rec = res[k]!;
      if (!v.ok(r, i + 1)) {
        rec.failures++;
        progress(`  ${v.name} run ${i + 1} failed: exit ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
        continue;
      }
      rec.wall.push(r.wallMs);
      rec.cpu.push(r.userS + r.sysS);
      rec.rss.push(r.maxRssKb / 1024);
      const ip = v.inProcess?.(r);
      if (ip !== undefined) rec.inProc.push(ip);
    }
    assertServer('the first-frame runs');
  }
  const refWall = median(res[3]!.wall);
  print();
  print(`(a) Time to the first complete frame, static scene, ${RUNS} runs each (min / median / max)`);
  print(table(
    ['client', 'wall ms', 'in-process first frame ms', 'CPU s (median)', 'peak RSS MiB (median)', 'vs reference (median wall)', 'failed'],
    variants.map((v, k) => {
      const r = res[k]!;
      return [v.name, spread(r.wall, 0), r.inProc.length ? spread(r.inProc, 0) : '-', fmt(median(r.cpu), 2), fmt(median(r.rss), 0),
        k === 3 ? '1.00x' : ratio(median(r.wall), refWall), String(r.failures)];
    }),
  ));
  // The last screenshots of both clients, pixel by pixel.
  const lastPng = png(RUNS);
  const lastPpm = ppm(RUNS);
  let pixelLine = 'pixel check: screenshots missing';
  if (existsSync(lastPng) && existsSync(lastPpm)) {
    const a = decodePng(readFileSync(lastPng));
    const b = readPpm(readFileSync(lastPpm));
    if (a.width !== b.width || a.height !== b.height) pixelLine = `pixel check: sizes differ (${a.width}x${a.height} vs ${b.width}x${b.height})`;
    else {
      let diff = 0;
      for (let p = 0, q = 0; p < a.width * a.height; p++, q += 3) {
        if (a.rgba[p * 4] !== b.rgb[q] || a.rgba[p * 4 + 1] !== b.rgb[q + 1] || a.rgba[p * 4 + 2] !== b.rgb[q + 2]) diff++;
      }
      pixelLine = `pixel check: spicectl's PNG vs spicy-screenshot's PPM: ${diff} of ${a.width * a.height} pixels differ`;
    }
  }
  print(pixelLine);
  print(`(in-process = from spicectl's Session start to the server's MARK; wall includes Node start-up and module loading,`);
  print(` see the "node startup floor" row)`);
  results.firstFrame = Object.fromEntries(variants.map((v, k) => [v.name, res[k]]));
  results.pixelCheck = pixelLine;
}

function readPpm(buf: Buffer): { width: number; height: number; rgb: Buffer } {
  // P6 <ws> width <ws> height <ws> maxval <single ws> data
  const tokens: string[] = [];
  let p = 0;
  while (tokens.length < 4) {
    while (/\s/.test(String.fromCharCode(buf[p]!))) p++;
    if (buf[p] === 0x23) { while (buf[p] !== 0x0a) p++; continue; }
    let s = '';
    while (!/\s/.test(String.fromCharCode(buf[p]!))) s += String.fromCharCode(buf[p++]!);
    tokens.push(s);
  }
  if (tokens[0] !== 'P6' || tokens[3] !== '255') throw new Error(`unsupported PPM header ${tokens.join(' ')}`);
  return { width: Number(tokens[1]), height: Number(tokens[2]), rgb: buf.subarray(p + 1) };
}

// ---------------------------------------------------------------------------------------------
// (b) CPU and memory over an animated workload

/** Plasma frames for `animate` (seeded: the same frames every run). */
async function makeFrames(): Promise<string[]> {
  const frames: string[] = [];
  for (let i = 0; i < 8; i++) {
    const f = join(tmp, `frame-${i}.png`);
    await run('convert', ['-seed', String(100 + i), '-size', '320x240', 'plasma:fractal', `PNG24:${f}`], { timeoutMs: 30_000 });
    frames.push(f);
  }
  return frames;
}

/**
 * The workload: xclock (redraws each second), xeyes following a pointer that xdotool moves
 * 20 times a second, an xterm scrolling 20 lines a second, and `animate` cycling 8 plasma frames
 * (320x240) at 4 fps ("images": below spice-server's 200 ms stream detection, so each frame is an
 * image in the session's codec) or 10 fps ("video": the server turns it into an MJPEG stream).
 */
async function startWorkload(kind: 'images' | 'video', frames: string[], seconds: number): Promise<Spawned[]> {
  const e = xEnv(x.display);
  const logFile = join(x.stateDir, 'bench-apps.log');
  const apps: Spawned[] = [];
  const app = (cmd: string, args: string[]) => apps.push(spawnGroup(cmd, args, { env: e, logFile }));
  app('xclock', ['-title', 'bench-xclock', '-geometry', '180x180+830+10', '-update', '1']);
  app('xeyes', ['-title', 'bench-xeyes', '-geometry', '180x130+830+200']);
  app('xterm', ['-T', 'bench-scroll', '-geometry', '64x14+430+240', '-bg', 'black', '-fg', 'green', '-e', 'sh', '-c',
    'i=0; while :; do i=$((i+1)); echo "$i the quick brown fox jumps over the lazy dog 0123456789"; sleep 0.05; done']);
  app('animate', ['-title', 'bench-animate', '-geometry', '+690+500', '-delay', kind === 'video' ? '10' : '25', ...frames]);
  // One xdotool process moves the pointer on a circle around the eyes, 20 steps a second.
  const steps: string[] = [];
  const n = Math.ceil((seconds + 3) * 20);
  for (let i = 0; i < n; i++) {
    const a = (i / 20) * Math.PI;
    steps.push('mousemove', String(Math.round(920 + 150 * Math.cos(a))), String(Math.round(265 + 150 * Math.sin(a))), 'sleep', '0.05');
  }
  app('xdotool', steps);
  for (const t of ['bench-xclock', 'bench-xeyes', 'bench-scroll', 'bench-animate']) await waitWindow(x.display, t, 15_000);
  return apps;
}

interface ClientSpec {
  name: string;
  reference?: boolean;
  start: (totalS: number) => ReturnType<typeof startTimed>;
  /** called right after the measurement window */
  stop: (p: ReturnType<typeof startTimed>) => void;
  parse: (r: TimedResult) => { displayBytes?: number; draws?: number; streamFrames?: number; codecs?: string };
}

async function workloads(): Promise<void> {
  const frames = await makeFrames();
  const lead = 2; // connect, first frame; the workload (and any video stream) starts after this
  const settle = 1; // windows mapped before the measurement window opens
  // Every client is stopped with SIGINT right after the window (spicectl's --duration is only a
  // safety net, long enough for a slow start of the workload's windows on a loaded machine).
  const total = lead + settle + T + 20;
  const spicectlParse = (r: TimedResult) => {
    const j = lastJson<{ channels?: { type: string; stats: { in: { bytes: number } } }[]; display?: { draws: number; streams: { frames: number }; imageCodecs: Record<string, number> } }>(r.stdout);
    return {
      displayBytes: j?.channels?.find((c) => c.type === 'display')?.stats.in.bytes,
      draws: j?.display?.draws,
      streamFrames: j?.display?.streams.frames,
      codecs: j?.display ? Object.entries(j.display.imageCodecs).map(([k, v]) => `${k.replace(/ \(\d+\)/, '')}:${v}`).join(' ') : undefined,
    };
  };
  const clients: ClientSpec[] = [
    {
      name: 'spicectl connect --duration (lz4)',
      start: (s) => startTimed(process.execPath, [BIN, 'connect', uri, '--duration', String(s), '--json'], { env, timeoutMs: (s + 30) * 1000 }),
      stop: (p) => p.signal('SIGINT'),
      parse: spicectlParse,
    },
    {
      name: 'spicectl connect --duration (server codecs)',
      start: (s) => startTimed(process.execPath, [BIN, 'connect', uri, '--duration', String(s), '--json', '--preferred-compression', 'server'], { env, timeoutMs: (s + 30) * 1000 }),
      stop: (p) => p.signal('SIGINT'),
      parse: spicectlParse,
    },
    {
      name: 'spicy-stats (reference)',
      reference: true,
      start: (s) => startTimed('spicy-stats', ['-h', '127.0.0.1', '-p', String(x.port)], { env, timeoutMs: (s + 30) * 1000 }),
      stop: (p) => p.signal('SIGINT'),
      parse: (r) => ({ displayBytes: Number(/display: (\d+)/.exec(r.stdout)?.[1] ?? NaN) }),
    },
  ];
  results.workloads = {};
  for (const kind of WORKLOADS) {
    progress(`(b) workload "${kind}": ${clients.length} clients x ${T} s`);
    const rows: { name: string; windowCpu: number; totalCpu: number; rssMiB: number; bytes?: number; draws?: number; streamFrames?: number; codecs?: string; failed?: string }[] = [];
    for (const c of clients) {
      const p = c.start(total);
      let windowCpu = NaN;
      let failed: string | undefined;
      let apps: Spawned[] = [];
      try {
        const pid = await waitCommandPid(p);
        await sleep(lead * 1000);
        apps = await startWorkload(kind, frames, T + settle);
        await sleep(settle * 1000);
        const c0 = cpuSeconds(pid);
        await sleep(T * 1000);
        const c1 = cpuSeconds(pid);
        if (c0 === undefined || c1 === undefined) failed = 'the client exited during the workload';
        else windowCpu = c1 - c0;
      } catch (e) {
        failed = (e as Error).message;
      }
      await Promise.all(apps.map((a) => a.stop(1000)));
      c.stop(p);
      const r = await p.done;
      if (r.code !== 0 && !failed) failed = `exit ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`;
      const parsed = c.parse(r);
      rows.push({ name: c.name, windowCpu, totalCpu: r.userS + r.sysS, rssMiB: r.maxRssKb / 1024, bytes: parsed.displayBytes, draws: parsed.draws, streamFrames: parsed.streamFrames, codecs: parsed.codecs, failed });
      if (failed) progress(`  ${c.name}: ${failed}`);
      // Streams end 1 s after their last frame: no stream may be running when the next client links
      // (spicectl linking while a stream runs crashes this spice-server, see bench/README.md).
      await sleep(kind === 'video' ? 2500 : 1000);
      assertServer(`the "${kind}" workload with ${c.name}`);
    }
    const ref = rows[rows.length - 1]!;
    print();
    print(`(b) CPU and memory, workload "${kind}" (${kind === 'video' ? '10 fps animation -> MJPEG video stream' : '4 fps animation -> images'} + xclock, xeyes, scrolling xterm), ${T} s window`);
    print(table(
      ['client', `CPU s in ${T} s`, '% of a core', 'vs ref', 'CPU s whole run', 'peak RSS MiB', 'vs ref', 'display MB in', 'draws / stream frames'],
      rows.map((r) => [
        r.name, fmt(r.windowCpu, 2), fmt((r.windowCpu / T) * 100, 1), r === ref ? '1.00x' : ratio(r.windowCpu, ref.windowCpu),
        fmt(r.totalCpu, 2), fmt(r.rssMiB, 0), r === ref ? '1.00x' : ratio(r.rssMiB, ref.rssMiB),
        r.bytes !== undefined ? fmt(r.bytes / 1e6, 2) : '-',
        r.draws !== undefined ? `${r.draws} / ${r.streamFrames ?? 0}` : '-',
      ]),
    ));
    for (const r of rows) if (r.codecs) print(`  ${r.name}: images ${r.codecs || 'none'}`);
    for (const r of rows) if (r.failed) print(`  ${r.name}: FAILED: ${r.failed}`);
    (results.workloads as Record<string, unknown>)[kind] = rows;
  }
}

// ---------------------------------------------------------------------------------------------
// (c) decoders

/** Records the display channel of one capture-only session (no drawing) until it is quiet. */
async function capture(mode: keyof typeof ImageCompression): Promise<RecordedMessage[]> {
  const msgs: RecordedMessage[] = [];
  let lastAt = performance.now();
  const session = new Session({
    endpoint: { host: '127.0.0.1', port: x.port },
    preferredCompression: ImageCompression[mode],
    glzWindow: 1 << 20,
    drawDisplay: false,
  });
  session.on('channel', (ch: { type: number; id: number; on: (ev: string, f: (type: number, body: Buffer) => void) => void }) => {
    if (ch.type === 2 && ch.id === 0) {
      ch.on('raw', (type, body) => {
        msgs.push({ type, body: Buffer.from(body) });
        lastAt = performance.now();
      });
    }
  });
  try {
    await session.connect();
    const deadline = performance.now() + 10_000;
    while (!session.display?.marked && performance.now() < deadline) await sleep(20);
    while (performance.now() - lastAt < 500 && performance.now() < deadline) await sleep(50);
  } finally {
    session.close();
  }
  await sleep(200);
  return msgs;
}

async function captureLive(): Promise<void> {
  progress('(c) live captures of the static scene: lz4, quic, glz, off');
  for (const mode of ['lz4', 'quic', 'glz', 'off'] as const) {
    const msgs = await capture(mode);
    liveCaptures.push({ name: `live-${mode}`, msgs: readRecording(writeRecording(msgs)) });
  }
  assertServer('the live captures');
}

function decoders(): void {
  progress('(c) decoder throughput');
  const sets: { name: string; images: BenchImage[] }[] = [];
  for (const f of readdirSync(FIXTURES).filter((f) => /\.bin(\.gz)?$/.test(f)).sort()) {
    sets.push({ name: f, images: recordingImages(loadRecording(join(FIXTURES, f))) });
  }
  for (const c of liveCaptures) sets.push({ name: `${c.name} (${x.width}x${x.height})`, images: recordingImages(c.msgs) });
  const rows: string[][] = [];
  const json: Record<string, { codecs: CodecResult[]; native: (NativeReference | null)[] }> = {};
  const perCodec = new Map<string, { pixels: number; ms: number }>();
  for (const s of sets) {
    if (!s.images.length) continue;
    const res = benchDecode(s.images, { minMs: DECODE_MS });
    const lz4 = nativeLz4(s.images);
    const bm = nativeBitmapCopy(s.images);
    json[s.name] = { codecs: res, native: [lz4, bm] };
    for (const r of res) {
      // A native figure over a few tiny images measures call overhead, not the codec: left out.
      const native = r.pixels < 10_000 ? null : r.codec.startsWith('LZ4') ? lz4 : r.codec.startsWith('BITMAP') ? bm : null;
      rows.push([s.name, r.codec, String(r.images), fmt(r.pixels / 1e6, 3), fmt(r.mpps, 1), fmt(r.inMBps, 1),
        native ? fmt(native.mpps, 1) : '-', native ? ratio(r.mpps, native.mpps) : '-', r.errors ? String(r.errors) : '']);
      const a = perCodec.get(r.codec) ?? { pixels: 0, ms: 0 };
      a.pixels += r.pixels * r.passes;
      a.ms += r.ms;
      perCodec.set(r.codec, a);
    }
  }
  print();
  print('(c) Decoder throughput, src/render/image.ts decodeImage, images in stream order, fresh caches per pass');
  print(table(['recording', 'codec', 'images', 'MP/pass', 'MP/s', 'in MB/s', 'native MP/s', 'spicectl/native', 'errors'], rows));
  print('native: LZ4 = lz4-napi (Rust lz4_flex) on the same blocks with the previous 64 KiB as dictionary, decompression only;');
  print('        BITMAP = Buffer.copy of the same bytes. spice-gtk\'s own C decoders are not callable from here:');
  print('        its end-to-end cost is part (b).');
  print(table(['codec (all recordings)', 'MP/s'], [...perCodec].sort().map(([k, v]) => [k, fmt(v.pixels / 1e6 / (v.ms / 1000), 1)])));
  for (const s of sets) {
    const lz4 = json[s.name]?.native[0];
    if (lz4?.blocks) {
      print(`  ${s.name}: ${lz4.blocks} LZ4 block(s), ${fmt(lz4.meanBlockBytes! / 1024, 1)} KiB decoded per block on average; ` +
        `spicectl's lz4DecodeBlock alone ${fmt(lz4.jsBlocksMpps, 1)} MP/s (the rest of decodeImage is the pixel conversion)`);
    }
  }
  results.decoders = json;
}
