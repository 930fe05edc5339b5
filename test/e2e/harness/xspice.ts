// Xspice (an X server that is a SPICE server) for display/input tests, plus X helpers:
// screenshots of the root window (ImageMagick import) and an xterm that has the keyboard focus.
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitListening } from './ports.js';
import {
  alive,
  childPids,
  makeStateDir,
  procStat,
  run,
  signalGroup,
  sleep,
  spawnGroup,
  tail,
  waitFor,
  within,
  type Spawned,
} from './proc.js';

export type XspiceContent = 'static' | 'basic' | 'none';

export interface XspiceOptions {
  /** SPICE password; without it ticketing is disabled. */
  password?: string;
  /** X clients to start: 'static' = nothing animates (fixed-text xterm, a seeded plasma image,
   *  xlogo), for pixel comparisons; 'basic' = scrolling xterm, xeyes, xclock; 'none' = empty root. */
  content: XspiceContent;
  /** Screen size "WxH" (default 1024x768). */
  size?: string;
  /** More Xspice options, e.g. ['--image-compression', 'quic', '--jpeg-wan-compression', 'never']. */
  extraArgs?: string[];
  /** Also listen with TLS on a second port; dir has ca-cert.pem, server-cert.pem, server-key.pem. */
  tls?: { dir: string };
  /** Extra environment for the server, e.g. { SPICE_DEBUG_ALLOW_MC: '1' }. */
  env?: Record<string, string>;
  /** Milliseconds to wait for the SPICE port and the X display (default 20000). */
  startTimeoutMs?: number;
}

export interface XspiceServer {
  /** SPICE port on 127.0.0.1. */
  port: number;
  /** TLS port on 127.0.0.1 (only with options.tls). */
  tlsPort?: number;
  /** X display, e.g. ":21". */
  display: string;
  width: number;
  height: number;
  /** State dir: xorg.conf, xorg.log (X server log), xspice.log (wrapper + driver output), apps.log. */
  stateDir: string;
  /** Pid of the Xspice python wrapper (leader of its process group) and of its Xorg child. */
  pid: number;
  xorgPid: number;
  /** Stop the X clients, Xorg, the wrapper. Idempotent. */
  stop(): Promise<void>;
}

const XORG_CONF = (w: number, h: number) => `# Written by the spicectl e2e harness (test/e2e/harness/xspice.ts).
# Debian's spiceqxl driver crashes at start ("resizing surface0 to 0", "malloc(): corrupted top
# size") with its stock config: the buffer sizes must be given explicitly.
Section "Device"
    Identifier "XSPICE"
    Driver "spiceqxl"
    Option "FrameBufferSize" "16"
    Option "SurfaceBufferSize" "128"
    Option "CommandBufferSize" "128"
    Option "NumHeads" "1"
EndSection
Section "InputDevice"
    Identifier "XSPICE POINTER"
    Driver     "xspice pointer"
EndSection
Section "InputDevice"
    Identifier "XSPICE KEYBOARD"
    Driver     "xspice keyboard"
EndSection
Section "Monitor"
    Identifier "Configured Monitor"
EndSection
Section "Screen"
    Identifier "XSPICE Screen"
    Monitor    "Configured Monitor"
    Device     "XSPICE"
    DefaultDepth 24
    SubSection "Display"
        Depth 24
        Virtual ${w} ${h}
    EndSubSection
EndSection
Section "ServerLayout"
    Identifier "XSPICE Layout"
    Screen "XSPICE Screen"
    InputDevice "XSPICE KEYBOARD"
    InputDevice "XSPICE POINTER"
EndSection
Section "ServerFlags"
    Option "AutoAddDevices" "False"
EndSection
`;

/** Display numbers handed out in this process. */
const usedDisplays = new Set<number>();

function pickDisplay(): number {
  for (let n = 20; n < 400; n++) {
    if (usedDisplays.has(n)) continue;
    if (existsSync(`/tmp/.X${n}-lock`) || existsSync(`/tmp/.X11-unix/X${n}`)) continue;
    usedDisplays.add(n);
    return n;
  }
  throw new Error('no free X display number');
}

/** Environment for X clients on DISPLAY. */
export function xEnv(display: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: display };
  delete env.XAUTHORITY;
  return env;
}

/** Run xdotool on DISPLAY; resolves with its trimmed stdout. */
export async function xdotool(display: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return (await run('xdotool', args, { env: xEnv(display), timeoutMs })).stdout.trim();
}

/** Ids (decimal) of visible windows whose WM_NAME matches the regex NAME (xdotool syntax). */
export async function findWindows(display: string, name: string): Promise<string[]> {
  try {
    const out = await xdotool(display, ['search', '--onlyvisible', '--name', name]);
    return out.split('\n').filter(Boolean);
  } catch {
    return []; // xdotool exits 1 when nothing matches
  }
}

/** Wait until a visible window named exactly TITLE exists; returns its id. */
export async function waitWindow(display: string, title: string, timeoutMs = 10_000, check?: () => void): Promise<string> {
  const re = `^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
  return waitFor(
    async () => {
      check?.();
      return (await findWindows(display, re))[0];
    },
    timeoutMs,
    `window "${title}" on ${display}`,
    100,
  );
}

export interface PngInfo {
  path: string;
  width: number;
  height: number;
  bitDepth: number;
  /** PNG colour type: 2 = RGB, 6 = RGBA, 3 = palette, 0 = grey. */
  colorType: number;
}

/** Width, height, bit depth and colour type from a PNG's IHDR. */
export function pngInfo(path: string): PngInfo {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(29);
  try {
    readSync(fd, b, 0, 29, 0);
  } finally {
    closeSync(fd);
  }
  if (b.readUInt32BE(0) !== 0x89504e47 || b.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`${path}: not a PNG`);
  return { path, width: b.readUInt32BE(16), height: b.readUInt32BE(20), bitDepth: b[24]!, colorType: b[25]! };
}

/** Screenshot of DISPLAY's root window as an 8-bit RGB PNG (`import -window root PNG24:OUT`). */
export async function xImport(display: string, outPng: string): Promise<PngInfo> {
  await run('import', ['-display', display, '-window', 'root', '-strip', `PNG24:${outPng}`], {
    env: xEnv(display),
    timeoutMs: 30_000,
  });
  return pngInfo(outPng);
}

/** sha256 of the root window's raw RGB pixels (for "has the screen settled" checks). */
export async function rootHash(display: string): Promise<string> {
  const { stdout } = await run('sh', ['-c', `import -display "$1" -window root -depth 8 rgb:- | sha256sum`, 'sh', display], {
    env: xEnv(display),
    timeoutMs: 30_000,
  });
  return stdout.split(' ')[0]!;
}

/** Wait until two screenshots taken intervalMs apart are identical. */
export async function waitScreenStable(display: string, timeoutMs = 10_000, intervalMs = 250): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const h = await rootHash(display);
      const same = h === last;
      last = h;
      return same;
    },
    timeoutMs,
    `a stable screen on ${display}`,
    intervalMs,
  );
}

const STATIC_TEXT = [
  'spicectl e2e static screen',
  '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789',
  'The quick brown fox jumps over the lazy dog.',
  '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
];

async function startContent(x: { display: string; stateDir: string; apps: Spawned[] }, content: XspiceContent, check: () => void): Promise<void> {
  if (content === 'none') return;
  const env = xEnv(x.display);
  const logFile = join(x.stateDir, 'apps.log');
  const app = (cmd: string, args: string[]) => x.apps.push(spawnGroup(cmd, args, { env, logFile }));
  const titles: string[] = [];
  if (content === 'static') {
    const plasma = join(x.stateDir, 'plasma.png');
    // A photo-like image; -seed makes it the same on every run.
    await run('convert', ['-seed', '42', '-size', '400x300', 'plasma:fractal', `PNG24:${plasma}`], { timeoutMs: 30_000 });
    const textFile = join(x.stateDir, 'static.txt');
    writeFileSync(textFile, STATIC_TEXT.join('\n') + '\n');
    // \e[?25l hides the text cursor (its look would depend on focus and pointer position).
    app('xterm', ['-T', 'static-xterm', '-geometry', '80x24+10+10', '-bg', 'navy', '-fg', 'yellow',
      '-e', 'sh', '-c', 'printf "\\033[?25l"; cat "$1"; exec sleep infinity', 'sh', textFile]);
    app('display', ['-title', 'static-image', '-geometry', '+10+400', plasma]);
    app('xlogo', ['-title', 'static-logo', '-geometry', '200x200+600+20']);
    titles.push('static-xterm', 'static-image', 'static-logo');
  } else {
    app('xterm', ['-T', 'basic-xterm', '-geometry', '80x24+10+10', '-bg', 'navy', '-fg', 'yellow', '-e', 'sh', '-c',
      'while :; do date; ls /usr/bin | shuf -n 20; sleep 2; done']);
    app('xeyes', ['-title', 'basic-xeyes', '-geometry', '200x150+600+20']);
    app('xclock', ['-title', 'basic-xclock', '-geometry', '200x200+600+250', '-update', '1']);
    titles.push('basic-xterm', 'basic-xeyes', 'basic-xclock');
  }
  for (const t of titles) await waitWindow(x.display, t, 15_000, check);
  if (content === 'static') await waitScreenStable(x.display, 10_000);
}

/** Start Xspice on 127.0.0.1 with a free port and display; resolves once the port listens and
 *  the content windows are mapped (and, for 'static', the screen has stopped changing). */
export async function startXspice(opts: XspiceOptions): Promise<XspiceServer> {
  const [w, h] = (opts.size ?? '1024x768').split('x').map(Number) as [number, number];
  if (!(w > 0 && h > 0)) throw new Error(`bad size ${opts.size}`);
  const stateDir = makeStateDir('xspice');
  const confFile = join(stateDir, 'xorg.conf');
  writeFileSync(confFile, XORG_CONF(w, h));
  const timeoutMs = opts.startTimeoutMs ?? 20_000;

  let lastError: Error | undefined;
  // A display number or port may be taken between picking and binding: retry with new ones.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const tlsPort = opts.tls ? await freePort() : undefined;
    const n = pickDisplay();
    const display = `:${n}`;
    const args = ['--port', String(port)];
    args.push(...(opts.password !== undefined ? ['--password', opts.password] : ['--disable-ticketing']));
    if (opts.tls && tlsPort) args.push('--tls-port', String(tlsPort), '--x509-dir', opts.tls.dir);
    args.push(...(opts.extraArgs ?? []));
    args.push('--config', confFile, display, '-nolisten', 'tcp', '-logfile', join(stateDir, 'xorg.log'));
    // XSPICE_ADDR (read by the spiceqxl driver) makes SPICE listen on loopback only; the wrapper
    // has no option for it (without it the server listens on 0.0.0.0).
    const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, XSPICE_ADDR: '127.0.0.1' };
    delete env.DISPLAY;
    const logFile = join(stateDir, 'xspice.log');
    writeFileSync(logFile, `# attempt ${attempt}: Xspice ${args.join(' ')}\n`, { flag: 'a' });
    const wrapper = spawnGroup('Xspice', args, { env, logFile });
    // On an unclean exit of the test process: SIGTERM to Xorg only. A SIGTERM makes the wrapper
    // SIGKILL Xorg (which then leaves its /tmp/.X<n>-lock and socket behind).
    wrapper.termPids = () => childPids(wrapper.pid).filter((p) => procStat(p)?.comm === 'Xorg');
    const apps: Spawned[] = [];
    let xorgPid = 0;
    let stopped: Promise<void> | undefined;
    const server: XspiceServer = {
      port,
      tlsPort,
      display,
      width: w,
      height: h,
      stateDir,
      pid: wrapper.pid,
      get xorgPid() {
        return xorgPid;
      },
      stop: () => (stopped ??= stopXspice(wrapper, () => xorgPid, apps, n)),
    };
    const check = () => {
      if (!wrapper.running()) throw new Error(`Xspice exited early:\n${tail(logFile)}`);
    };
    try {
      await waitListening(port, timeoutMs, check);
      if (tlsPort) await waitListening(tlsPort, timeoutMs, check);
      await waitFor(() => existsSync(`/tmp/.X11-unix/X${n}`), timeoutMs, `X socket of ${display}`);
      xorgPid = await waitFor(() => childPids(wrapper.pid).find((p) => procStat(p)?.comm === 'Xorg'), 5000, 'Xorg pid');
      const geom = await waitFor(
        async () => {
          check();
          return xdotool(display, ['getdisplaygeometry']).catch(() => undefined);
        },
        timeoutMs,
        `X display ${display}`,
        100,
      );
      if (geom !== `${w} ${h}`) throw new Error(`display ${display} is ${geom}, wanted ${w}x${h}`);
      await startContent({ display, stateDir, apps }, opts.content, check);
      return server;
    } catch (err) {
      lastError = err as Error;
      await server.stop();
      // Only a server that died at start (display or port taken meanwhile) is worth another try.
      if (!/exited early/.test(lastError.message)) break;
    }
  }
  throw new Error(`startXspice failed (logs in ${stateDir}): ${lastError?.message}`);
}

async function stopXspice(wrapper: Spawned, xorgPid: () => number, apps: Spawned[], n: number): Promise<void> {
  await Promise.all(apps.map((a) => a.stop(1000)));
  // Kill Xorg first: the Xspice python wrapper deadlocks in its own SIGTERM handler
  // (Popen.wait re-entered) but exits by itself once its Xorg child is gone.
  const xpids = new Set<number>([xorgPid(), ...childPids(wrapper.pid).filter((p) => procStat(p)?.comm === 'Xorg')]);
  xpids.delete(0);
  for (const p of xpids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && [...xpids].some(alive)) await sleep(50);
  // The wrapper has nothing left to clean up (it may still sit in its 2 s start-up sleep).
  if (wrapper.running()) await within(wrapper.exited, 200);
  signalGroup(wrapper.pid, 'SIGKILL');
  await wrapper.stop(500);
  // Xorg removes its lock and socket on a clean exit; clean up after a killed one.
  if (![...xpids].some(alive)) {
    let lockPid = 0;
    try {
      lockPid = Number(readFileSync(`/tmp/.X${n}-lock`, 'utf8').trim());
    } catch {
      /* no lock */
    }
    if (!lockPid || !alive(lockPid)) {
      rmSync(`/tmp/.X${n}-lock`, { force: true });
      rmSync(`/tmp/.X11-unix/X${n}`, { force: true });
    }
  }
  usedDisplays.delete(n);
}

export interface XtermOptions {
  /** Window title (default: a unique "spicectl-xterm-N"). */
  title?: string;
  /** X geometry (default "80x24+50+50"). */
  geometry?: string;
  /** Write everything typed into the xterm to this file (`cat > FILE`). */
  captureFile?: string;
  /** With captureFile: put the tty in raw mode, so every key's bytes arrive at once, including
   *  control characters (Ctrl+C = 0x03, Backspace = 0x7f, arrows = ESC [ A ...). Default: line mode. */
  raw?: boolean;
  /** Command to run instead (argv); ignored with captureFile. Default: sleep. */
  command?: string[];
  /** Give the xterm the keyboard focus (XSetInputFocus) and check it (default true). */
  focus?: boolean;
}

export interface Xterm {
  pid: number;
  /** X window id (decimal string, as xdotool prints it). */
  windowId: string;
  title: string;
  /** Set the input focus to this xterm again and verify it; returns the focused window id. */
  focus(): Promise<string>;
  /** True if this xterm's window has the input focus. */
  isFocused(): Promise<boolean>;
  stop(): Promise<void>;
}

let xtermSeq = 0;

/** Start an xterm on DISPLAY for typing tests; resolves once it is mapped (and focused). */
export async function startXterm(display: string, opts: XtermOptions = {}): Promise<Xterm> {
  const title = opts.title ?? `spicectl-xterm-${process.pid}-${++xtermSeq}`;
  let cmd: string[];
  if (opts.captureFile) {
    writeFileSync(opts.captureFile, '');
    cmd = ['sh', '-c', `${opts.raw ? 'stty raw; ' : ''}exec cat >"$1"`, 'sh', opts.captureFile];
  } else {
    cmd = opts.command ?? ['sleep', 'infinity'];
  }
  const proc = spawnGroup(
    'xterm',
    ['-T', title, '-geometry', opts.geometry ?? '80x24+50+50', '-xrm', 'XTerm*allowTitleOps: false', '-e', ...cmd],
    { env: xEnv(display) },
  );
  const check = () => {
    if (!proc.running()) throw new Error(`xterm on ${display} exited`);
  };
  let windowId: string;
  try {
    windowId = await waitWindow(display, title, 15_000, check);
  } catch (err) {
    await proc.stop(500);
    throw err;
  }
  const isFocused = async () => (await xdotool(display, ['getwindowfocus']).catch(() => '')) === windowId;
  const focus = async () => {
    await xdotool(display, ['windowfocus', '--sync', windowId]);
    await waitFor(isFocused, 5000, `focus on xterm ${windowId}`);
    return windowId;
  };
  const xt: Xterm = { pid: proc.pid, windowId, title, focus, isFocused, stop: () => proc.stop(1000) };
  if (opts.focus ?? true) {
    try {
      await focus();
    } catch (err) {
      await proc.stop(500);
      throw err;
    }
  }
  return xt;
}
