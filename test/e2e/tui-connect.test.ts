// `spicectl connect --tui --display ansi` in a real terminal (tmux, 160x50) against a real Xspice
// whose desktop animates (content 'basic': xclock -update 1, a scrolling xterm). We read the
// screen with capture-pane and press keys with send-keys: the channel table shows non-zero display
// rates, the status bar a ping, fps and the mouse mode; s writes a PNG of the display; k sends
// Ctrl-Alt-Del (seen by a raw xterm on the guest); d and ? work; q exits 0 and gives the terminal
// back. The ping probes (zero motions) do not move the guest's pointer, and no log reaches the TTY.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startXspice, startXterm, xdotool, type XspiceServer, type Xterm } from './harness/index.js';
import { BIN } from './spicectl.js';
import { decodePng } from '../../src/render/outputs/png.js';

const haveTmux = spawnSync('tmux', ['-V']).status === 0;

async function until<T>(what: string, f: () => T | Promise<T>, ms = 20_000, show: () => string = () => ''): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${show()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('connect --tui in tmux against Xspice', { skip: haveTmux ? false : 'tmux is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-tui-connect-'));
  const shots = join(dir, 'shots');
  const sock = join(dir, 'tmux.sock');
  const tmux = (...args: string[]) => execFileSync('tmux', ['-S', sock, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', 'tui');
  const flags = () => tmux('display', '-p', '-t', 'tui', '#{alternate_on} #{cursor_flag}').trim();
  let x: XspiceServer;
  let term: Xterm | undefined;
  const keysFile = join(dir, 'keys');

  before(async () => {
    x = await startXspice({ content: 'basic' });
    // A raw xterm with the focus records the bytes of the keys the guest receives.
    term = await startXterm(x.display, { captureFile: keysFile, raw: true, geometry: '40x5+600+600' });
    await xdotool(x.display, ['mousemove', '333', '444']);
    writeFileSync(
      join(dir, 'run.sh'),
      [
        `cd '${repoRoot}'`,
        `mkdir -p '${shots}'`,
        'echo BEFORE-TUI',
        // --log-level debug without --log-file: the view must keep every log line off the TTY.
        `env -u CI node '${BIN}' --log-level debug connect spice://127.0.0.1:${x.port} --tui --display ansi --screenshot-dir '${shots}'`,
        `echo $? > '${join(dir, 'rc')}.tmp'`,
        `stty -a > '${join(dir, 'stty')}'`,
        `mv '${join(dir, 'rc')}.tmp' '${join(dir, 'rc')}'`,
        'exec sleep 600',
      ].join('\n'),
    );
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'tui', '-x', '160', '-y', '50', `sh '${join(dir, 'run.sh')}'`);
  });

  after(async () => {
    spawnSync('tmux', ['-S', sock, 'kill-server']);
    await term?.stop();
    await x?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('table with live display rates, status bar, keys s k d ?, q exits 0 and restores the terminal', async () => {
    // The display channel's rate: Xspice animates (the clock every second), so it is never 0 for long.
    const rate = /display:0\s+ready\s+\S+ \S+\s+\S+ \S+\s+([\d.]+) (B|KiB|MiB)\/s/;
    await until('a non-zero display rate in the table', () => Number(rate.exec(screen())?.[1] ?? 0) > 0, 30_000, screen);
    let s = screen();
    assert.match(s, /channel\s+state\s+in\s+out\s+rate in\s+rate out\s+msgs in\/out\s+tls/);
    for (const ch of ['main:0', 'display:0', 'inputs:0', 'cursor:0']) assert.match(s, new RegExp(`${ch}\\s+ready`));
    assert.ok(!s.includes('BEFORE-TUI'), 'on the alternate screen');
    assert.equal(flags(), '1 0', 'alternate screen on, cursor hidden');
    // Status bar: a measured ping, the display size with a non-zero fps, server mouse mode, no agent.
    const status = /ping ([\d.]+) ms │ display 1024x768 @ ([\d.]+) fps │ mouse server │ agent no │ up \d+:\d\d/;
    await until('ping and fps in the status bar', () => {
      const m = status.exec(screen());
      return m && Number(m[2]) > 0;
    }, 30_000, screen);
    s = screen();
    // The display beside the table (160 columns: side by side), as half blocks.
    const first = s.split('\n')[0]!;
    assert.match(first, /^▀+\s+channel/, 'display at the left of the first row, the table at its right');
    assert.ok(s.split('\n').filter((l) => l.startsWith('▀▀▀▀▀▀▀▀▀▀')).length >= 20, 'many rows of the picture');
    assert.ok(!/"level"|\{"msg"|DEBUG|INFO/.test(s), 'no log line on the screen');

    // s: a PNG of the display, 1024x768, with the navy xterm of the desktop in it.
    tmux('send-keys', '-t', 'tui', 's');
    const saved = await until('the snapshot message', () => /snapshot saved: (\S+\.png)/.exec(screen())?.[1], 15_000, screen);
    assert.ok(existsSync(saved), saved);
    const png = decodePng(readFileSync(saved));
    assert.equal(png.width, 1024);
    assert.equal(png.height, 768);
    const at = (px: number, py: number) => [...png.rgba.subarray((py * 1024 + px) * 4, (py * 1024 + px) * 4 + 3)];
    const [r, g, b] = at(450, 200);
    assert.ok(b! > 100 && r! < 60 && g! < 60, `navy xterm background at (450,200): ${at(450, 200)}`);
    assert.deepEqual(readdirSync(shots).filter((f) => f.endsWith('.png')).length, 1);

    // k: Ctrl-Alt-Del through the inputs channel; the focused raw xterm on the guest sees Ctrl+Alt+Delete.
    tmux('send-keys', '-t', 'tui', 'k');
    await until('the Ctrl-Alt-Del message', () => screen().includes('sent Ctrl-Alt-Del'), 10_000, screen);
    await until('Ctrl+Alt+Delete in the guest xterm', () => readFileSync(keysFile, 'latin1').includes('\x1b[3;7~'), 10_000, () => JSON.stringify(readFileSync(keysFile, 'latin1')));

    tmux('send-keys', '-t', 'tui', '?');
    await until('the help', () => screen().includes('send Ctrl-Alt-Del to the guest'), 10_000, screen);
    tmux('send-keys', '-t', 'tui', 'Escape');
    // (a key right after ESC would read as Alt+key: wait for the help to close first)
    await until('the help closed', () => !screen().includes('send Ctrl-Alt-Del to the guest'), 10_000, screen);
    tmux('send-keys', '-t', 'tui', 'd');
    await until('the display hidden', () => screen().split('\n')[0]!.startsWith('channel'), 10_000, screen);
    tmux('send-keys', '-t', 'tui', 'd');
    await until('the display back', () => /^▀+\s+channel/.test(screen().split('\n')[0]!), 10_000, screen);

    tmux('send-keys', '-t', 'tui', 'q');
    const rcFile = join(dir, 'rc');
    await until('spicectl to exit', () => existsSync(rcFile), 15_000, screen);
    assert.equal(readFileSync(rcFile, 'utf8').trim(), '0');
    const after = screen();
    assert.match(after, /BEFORE-TUI/, 'the main screen is back');
    assert.match(after, /^ok: session \d+, channels main:0 display:0 inputs:0 cursor:0 display 1024x768/m, 'the summary, on the main screen');
    assert.ok(!after.includes('rate in'), 'nothing of the view left on the main screen');
    assert.ok(!/"level"|"msg"/.test(after), 'no log line either');
    assert.equal(flags(), '0 1', 'alternate screen off, cursor shown');
    const stty = readFileSync(join(dir, 'stty'), 'utf8');
    assert.match(stty, /(^|\s)icanon(\s|$)/, 'canonical mode back (raw mode off)');
    assert.match(stty, /(^|\s)echo(\s|$)/, 'echo back');

    // Several ping probes ran (one every 2 s): zero motions never moved the guest's pointer.
    assert.match(await xdotool(x.display, ['getmouselocation']), /^x:333 y:444 /);
  });
});
