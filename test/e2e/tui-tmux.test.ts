// The live view in a real terminal: tmux runs the TUI demo (a fake, changing session) in a
// 120x40 pane; we read the screen with capture-pane, press keys with send-keys, and check that
// `q` exits 0 and gives the terminal back (main screen, cursor shown, cooked mode).
// The lead will switch the demo for `spicectl connect` against a real server later.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const haveTmux = spawnSync('tmux', ['-V']).status === 0;

/** Polls `f` until it returns something truthy; fails after `ms` with the last screen. */
async function until<T>(what: string, f: () => T, ms = 15_000, show: () => string = () => ''): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${show()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('live view in tmux', { skip: haveTmux ? false : 'tmux is not installed (scripts/install-deps.sh)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-tui-'));
  const sock = join(dir, 'tmux.sock');
  const tmux = (...args: string[]) => execFileSync('tmux', ['-S', sock, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', 'tui');
  const flags = () => tmux('display', '-p', '-t', 'tui', '#{alternate_on} #{cursor_flag}').trim();

  before(() => {
    // Ink writes nothing interactive under CI=true, so the demo runs without it; after it
    // exits, the pane records its exit code and terminal modes and stays open to be read.
    writeFileSync(
      join(dir, 'run.sh'),
      [
        `cd '${root}'`,
        `echo BEFORE-TUI`,
        `env -u CI node --import tsx src/render/tui/demo.tsx --refresh 100`,
        `echo $? > '${join(dir, 'rc')}.tmp'`,
        `stty -a > '${join(dir, 'stty')}'`,
        `mv '${join(dir, 'rc')}.tmp' '${join(dir, 'rc')}'`,
        `exec sleep 600`,
      ].join('\n'),
    );
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'tui', '-x', '120', '-y', '40', `sh '${join(dir, 'run.sh')}'`);
  });

  after(() => {
    spawnSync('tmux', ['-S', sock, 'kill-server']);
    rmSync(dir, { recursive: true, force: true });
  });

  test('shows non-zero rates, answers keys, q exits 0 and restores the terminal', async () => {
    // The table with a non-zero rate on the display channel.
    const rate = /display:0\s+ready\s+\S+ \S+\s+\S+ \S+\s+([\d.]+) (B|KiB|MiB)\/s/;
    await until('the channel table with a non-zero rate', () => Number(rate.exec(screen())?.[1] ?? 0) > 0, 30_000, screen);
    const s = screen();
    assert.match(s, /usb device\s+dir\s+payload\s+wire\s+ratio/);
    assert.match(s, /emulated disk 0951:1666\s+in\s+.*\d\.\d\dx\s+on/);
    assert.match(s, /ping [\d.]+ ms │ display 1024x768 @ [\d.]+ fps │ mouse client │ agent yes │ up \d+:\d\d/);
    assert.ok(!s.includes('BEFORE-TUI'), 'on the alternate screen');
    assert.equal(flags(), '1 0', 'alternate screen on, cursor hidden');

    // Sparklines fill as the fake rates change (one sample a second).
    await until('sparklines', () => /display:0 .*[▂▃▄▅▆▇█].*[▂▃▄▅▆▇█]/.test(screen()), 15_000, screen);

    tmux('send-keys', '-t', 'tui', '?');
    await until('the help', () => screen().includes('send Ctrl-Alt-Del'), 10_000, screen);
    tmux('send-keys', '-t', 'tui', 's');
    await until('the snapshot message', () => screen().includes('snapshot saved: /tmp/spicectl-demo-snapshot-1.png'), 10_000, screen);
    tmux('send-keys', '-t', 'tui', 'd');
    await until('the display hidden', () => screen().split('\n')[0]!.startsWith('╭') || screen().split('\n')[0]!.startsWith('channel'), 10_000, screen);

    // Resize the window: the view follows.
    tmux('resize-window', '-t', 'tui', '-x', '100', '-y', '30');
    await until('the new size', () => /ping .* up \d/.test(screen().split('\n')[28] ?? ''), 10_000, screen);

    tmux('send-keys', '-t', 'tui', 'q');
    const rcFile = join(dir, 'rc');
    await until('the demo to exit', () => existsSync(rcFile), 15_000, screen);
    assert.equal(readFileSync(rcFile, 'utf8').trim(), '0');
    const after = screen();
    assert.match(after, /BEFORE-TUI/, 'the main screen is back');
    assert.match(after, /demo: bye/);
    assert.ok(!after.includes('channel'), 'nothing of the view left on the main screen');
    assert.equal(flags(), '0 1', 'alternate screen off, cursor shown');
    const stty = readFileSync(join(dir, 'stty'), 'utf8');
    assert.match(stty, /(^|\s)icanon(\s|$)/, 'canonical mode back (raw mode off)');
    assert.match(stty, /(^|\s)echo(\s|$)/, 'echo back');
  });
});
