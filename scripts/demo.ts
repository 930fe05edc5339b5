// The main job on a local demo server: start an Xspice desktop (xterm, xeyes, xclock and a
// photo), then connect to it with spicectl: a CI-style check with JSON, and a screenshot.
// Run through scripts/demo.sh, which installs what is missing first.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startXspice } from '../test/e2e/harness/index.js';

const out = process.argv[2] ?? 'demo.png';
const bin = join(import.meta.dirname, '..', 'bin', 'spicectl.js');
const spicectl = (...args: string[]) => {
  console.log(`\n$ spicectl ${args.join(' ')}`);
  return spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit' }).status;
};

const x = await startXspice({ content: 'basic' });
console.log(`demo SPICE server: Xspice on spice://127.0.0.1:${x.port} (X display ${x.display})`);
let rc = 0;
try {
  rc ||= spicectl('connect', `spice://127.0.0.1:${x.port}`, '--check', '--timeout', '20') ?? 1;
  rc ||= spicectl('connect', `spice://127.0.0.1:${x.port}`, '--screenshot', out, '--timeout', '20') ?? 1;
  if (!rc) console.log(`\nThe desktop as spicectl drew it: ${out}`);
} finally {
  await x.stop();
}
process.exit(rc);
