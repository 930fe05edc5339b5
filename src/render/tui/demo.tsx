// The live view on a fake, changing session: `node --import tsx src/render/tui/demo.tsx
// [--refresh MS] [--no-display] [--stats]`. Used by the tmux end-to-end test; handy to try keys.
import { pathToFileURL } from 'node:url';
import { fakeHalfBlockDisplay, fakeSnapshotSource } from './fake-snapshot.js';
import { startTui } from './run-tui.js';
import { formatStatsLine } from './stats-line.js';

export async function demo(argv: string[]): Promise<number> {
  const opt = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const refreshMs = Number(opt('--refresh') ?? 250);
  // Start the fake session 10 s in the past so the counters are already non-zero.
  const getSnapshot = fakeSnapshotSource(Date.now() - 10_000);
  if (argv.includes('--stats') || !process.stdout.isTTY) {
    for (let i = 0; i < 3; i++) {
      process.stdout.write(formatStatsLine(getSnapshot()) + '\n');
      await new Promise((r) => setTimeout(r, refreshMs));
    }
    return 0;
  }
  let snapshots = 0;
  const tui = startTui({
    getSnapshot,
    refreshMs,
    renderDisplay: argv.includes('--no-display') ? undefined : (cols, rows) => fakeHalfBlockDisplay(cols, rows, Date.now()),
    onQuit: () => {},
    onSnapshot: () => `/tmp/spicectl-demo-snapshot-${++snapshots}.png`,
    onCtrlAltDel: () => {},
  });
  await tui.done;
  process.stdout.write('demo: bye\n');
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await demo(process.argv.slice(2));
}
