// Does the live view cost the session anything? The same display workload is received with and
// without the TUI, and the display frames per second the client counts must agree within 10%.
//
//   node --import tsx bench/tui-overhead.ts [--seconds 15] [--rounds 2] [--modes plain,ansi,sixel]
//                                          [--content busy|basic] [--json]
//
// Workload (a real Xspice): 'busy' (default) = an xterm printing 40 lines of `ls -l` every 50 ms
// plus xclock -update 1; 'basic' = the e2e harness's desktop (xclock -update 1, a slowly scrolling
// xterm, xeyes). Modes, run in turns (plain, ansi, sixel, plain, ...) so drifts hit all alike:
//   plain  `connect --duration S --json`, stdout a pipe, CI=1: no Ink at all (the baseline)
//   table  the live view without a display (--display none), in tmux (160x50)
//   ansi   the live view with ANSI half blocks, in tmux (160x50)
//   sixel  the live view with sixel, in `xterm -ti vt340` (200x60) on Xvfb
// The live-view runs go through `script` so that spicectl has a TTY and its --json report is
// still recorded. fps = frames (bursts of draw messages, see src/session/stats/frames.ts) per
// second between the first frame and the end; draws/s and display bytes/s are shown too.
// Exit status 1 when a live-view mode is more than 10% off the baseline.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startXspice, startXterm, waitFor, xdotool, xEnv, type XspiceServer } from '../test/e2e/harness/index.js';
import { makeStateDir, spawnGroup, type Spawned } from '../test/e2e/harness/proc.js';

type Mode = 'plain' | 'table' | 'ansi' | 'sixel';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : def;
};
const seconds = Number(opt('--seconds', '15'));
const rounds = Number(opt('--rounds', '2'));
const modes = opt('--modes', 'plain,ansi,sixel').split(',') as Mode[];
const content = opt('--content', 'busy');
const asJson = argv.includes('--json');
const BIN = join(repoRoot, 'bin/spicectl.js');
const work = mkdtempSync(join(tmpdir(), 'spicectl-tui-bench-'));

interface Report {
  live: { frames: number; draws: number; averageFps: number; pingMedianMs: number | null; eventLoop: { meanMs: number; p99Ms: number; maxMs: number } };
  channels: { type: string; stats: { in: { bytes: number } } }[];
  timings: { firstFrameMs: number | null };
}
interface Sample { mode: Mode; fps: number; drawsPerS: number; bytesPerS: number; pingMs: number | null; loopP99Ms: number; loopMaxMs: number }

const log = (s: string) => process.stderr.write(`${s}\n`);

function sample(mode: Mode, r: Report): Sample {
  const span = seconds - (r.timings.firstFrameMs ?? 0) / 1000;
  const display = r.channels.find((c) => c.type === 'display');
  return {
    mode,
    fps: r.live.averageFps,
    drawsPerS: r.live.draws / span,
    bytesPerS: (display?.stats.in.bytes ?? 0) / span,
    pingMs: r.live.pingMedianMs,
    loopP99Ms: r.live.eventLoop.p99Ms,
    loopMaxMs: r.live.eventLoop.maxMs,
  };
}

/** The --json report at the end of a `script` typescript (after the view left the alternate screen). */
function reportFromTypescript(file: string): Report {
  const text = readFileSync(file, 'latin1');
  const tail = text.slice(text.lastIndexOf('\x1b[?1049l'));
  const start = tail.indexOf('{');
  const end = tail.lastIndexOf('}');
  if (start < 0 || end < 0) throw new Error(`no JSON report in ${file}`);
  return JSON.parse(tail.slice(start, end + 1).replace(/\r/g, '')) as Report;
}

const connectArgs = (x: XspiceServer) => ['connect', `spice://127.0.0.1:${x.port}`, '--duration', String(seconds), '--json'];

function runPlain(x: XspiceServer): Report {
  const r = spawnSync(process.execPath, [BIN, ...connectArgs(x), '--no-tui'], { encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout: (seconds + 60) * 1000 });
  if (r.status !== 0) throw new Error(`plain run failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Report;
}

/** `script` gives spicectl a TTY and records what it printed (the view, then the report). */
function scriptCommand(mode: Mode, x: XspiceServer, typescript: string, rc: string): string {
  const cmd = `env -u CI node '${BIN}' ${connectArgs(x).join(' ')} --tui --display ${mode === 'table' ? 'none' : mode}`;
  return `cd '${repoRoot}' && script -q -e -c "${cmd}" '${typescript}'; echo $? > '${rc}'`;
}

async function runInTmux(x: XspiceServer, mode: 'table' | 'ansi', n: number): Promise<Report> {
  const sock = join(work, `tmux-${mode}-${n}.sock`);
  const ts = join(work, `${mode}-${n}.typescript`);
  const rc = join(work, `${mode}-${n}.rc`);
  writeFileSync(join(work, `${mode}-${n}.sh`), scriptCommand(mode, x, ts, rc));
  execFileSync('tmux', ['-S', sock, '-f', '/dev/null', 'new-session', '-d', '-s', 'b', '-x', '160', '-y', '50', `sh '${join(work, `${mode}-${n}.sh`)}'; sleep 600`]);
  try {
    await waitFor(() => existsSync(rc) && readFileSync(rc, 'utf8').trim() !== '', (seconds + 60) * 1000, `the ${mode} run`, 200);
  } finally {
    spawnSync('tmux', ['-S', sock, 'kill-server']);
  }
  if (readFileSync(rc, 'utf8').trim() !== '0') throw new Error(`${mode} run failed: ${readFileSync(rc, 'utf8')}`);
  return reportFromTypescript(ts);
}

async function runInXterm(x: XspiceServer, display: string, n: number): Promise<Report> {
  const ts = join(work, `sixel-${n}.typescript`);
  const rc = join(work, `sixel-${n}.rc`);
  writeFileSync(join(work, `sixel-${n}.sh`), scriptCommand('sixel', x, ts, rc));
  const xt = spawnGroup('xterm', ['-ti', 'vt340', '-geometry', '200x60+0+0', '-e', 'sh', join(work, `sixel-${n}.sh`)], { env: xEnv(display) });
  try {
    await waitFor(() => existsSync(rc) && readFileSync(rc, 'utf8').trim() !== '', (seconds + 60) * 1000, 'the sixel run', 200);
  } finally {
    await xt.stop(1000);
  }
  if (readFileSync(rc, 'utf8').trim() !== '0') throw new Error(`sixel run failed: ${readFileSync(rc, 'utf8')}`);
  const r = reportFromTypescript(ts);
  // The view really drew sixel images into the terminal.
  if (!readFileSync(ts, 'latin1').includes('\x1bP0;1;0q')) throw new Error('no sixel image was written');
  return r;
}

async function main(): Promise<number> {
  const x = await startXspice({ content: content === 'basic' ? 'basic' : 'none' });
  const extra: { stop(): Promise<void> }[] = [];
  let xvfb: Spawned | null = null;
  try {
    if (content !== 'basic') {
      extra.push(await startXterm(x.display, {
        title: 'bench-busy', geometry: '100x40+10+10', focus: false,
        command: ['sh', '-c', 'while :; do ls -l /usr/bin | head -40; sleep 0.05; done'],
      }));
      extra.push(spawnGroup('xclock', ['-update', '1', '-geometry', '200x200+700+20'], { env: xEnv(x.display) }));
    }
    let screen = '';
    if (modes.includes('sixel')) {
      let n = 650;
      while (existsSync(`/tmp/.X${n}-lock`) || existsSync(`/tmp/.X11-unix/X${n}`)) n++;
      screen = `:${n}`;
      xvfb = spawnGroup('Xvfb', [screen, '-screen', '0', '1400x900x24', '-nolisten', 'tcp'], { logFile: join(makeStateDir('xvfb'), 'xvfb.log') });
      await waitFor(async () => existsSync(`/tmp/.X11-unix/X${n}`) && (await xdotool(screen, ['getdisplaygeometry']).catch(() => '')) === '1400 900', 15_000, `Xvfb ${screen}`, 100);
    }
    // Let the workload get going.
    await new Promise((r) => setTimeout(r, 2000));
    const samples: Sample[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const mode of modes) {
        log(`round ${round}: ${mode} (${seconds} s)...`);
        const r = mode === 'plain' ? runPlain(x) : mode === 'sixel' ? await runInXterm(x, screen, round) : await runInTmux(x, mode, round);
        const s = sample(mode, r);
        samples.push(s);
        log(`  fps ${s.fps.toFixed(2)}, draws/s ${s.drawsPerS.toFixed(1)}, display ${(s.bytesPerS / 1024).toFixed(1)} KiB/s, ping ${s.pingMs ?? '-'} ms, event loop late p99 ${s.loopP99Ms} ms, max ${s.loopMaxMs} ms`);
      }
    }
    const avg = (m: Mode, k: 'fps' | 'drawsPerS' | 'bytesPerS' | 'loopP99Ms') => {
      const v = samples.filter((s) => s.mode === m).map((s) => s[k]);
      return v.reduce((a, b) => a + b, 0) / v.length;
    };
    const base = avg('plain', 'fps');
    const rows = modes.map((m) => ({
      mode: m,
      fps: Math.round(avg(m, 'fps') * 100) / 100,
      drawsPerS: Math.round(avg(m, 'drawsPerS') * 10) / 10,
      kibPerS: Math.round(avg(m, 'bytesPerS') / 102.4) / 10,
      loopP99Ms: Math.round(avg(m, 'loopP99Ms') * 10) / 10,
      vsPlain: m === 'plain' || !modes.includes('plain') ? null : Math.round(((avg(m, 'fps') - base) / base) * 1000) / 10,
    }));
    const ok = rows.every((r) => r.vsPlain === null || Math.abs(r.vsPlain) <= 10);
    if (asJson) process.stdout.write(`${JSON.stringify({ seconds, rounds, content, rows, samples, ok })}\n`);
    else {
      process.stdout.write(`tui overhead: ${content} workload, ${rounds} x ${seconds} s per mode\n`);
      process.stdout.write('mode    fps     draws/s  display KiB/s  loop late p99  vs plain\n');
      for (const r of rows) {
        process.stdout.write(`${r.mode.padEnd(7)} ${r.fps.toFixed(2).padStart(6)}  ${r.drawsPerS.toFixed(1).padStart(7)}  ${r.kibPerS.toFixed(1).padStart(13)}  ${`${r.loopP99Ms} ms`.padStart(13)}  ${r.vsPlain === null ? '-' : `${r.vsPlain > 0 ? '+' : ''}${r.vsPlain}%`}\n`);
      }
      process.stdout.write(ok ? 'ok: every live-view mode within 10% of the baseline\n' : 'FAIL: a live-view mode is more than 10% off the baseline\n');
    }
    return ok ? 0 : 1;
  } finally {
    for (const e of extra) await e.stop();
    await xvfb?.stop(1000);
    await x.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

process.exitCode = await main();
