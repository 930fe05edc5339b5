// The spicectl e2e harness: real SPICE servers (Xspice, QEMU + a tiny guest) for tests.
export { freePort, isListening, waitListening } from './ports.js';
export { spiceProbe, type SpiceProbeResult } from './probe.js';
export {
  startXspice,
  startXterm,
  xImport,
  xdotool,
  xEnv,
  findWindows,
  waitWindow,
  pngInfo,
  rootHash,
  waitScreenStable,
  type XspiceOptions,
  type XspiceServer,
  type XspiceContent,
  type Xterm,
  type XtermOptions,
  type PngInfo,
} from './xspice.js';
export { startQemu, ensureGuest, parseMark, waitLogLine, type QemuOptions, type QemuServer, type Mark } from './qemu.js';
export { QmpClient, QmpError, qmpCommand, type QmpEvent } from './qmp.js';
export { makeStateDir, repoRoot, run, waitFor, alive, groupPids } from './proc.js';
