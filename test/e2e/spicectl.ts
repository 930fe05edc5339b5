// Runs the built spicectl binary as a user would, and captures what it printed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { repoRoot } from './harness/index.js';
import { decodePng } from '../../src/render/outputs/png.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export const BIN = join(repoRoot, 'bin/spicectl.js');

export function spicectl(args: string[], opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const env = { ...process.env, SPICE_PASSWORD: undefined, CI: '1', ...opts.env };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const p = spawn(process.execPath, [BIN, ...args], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
    p.stdin.on('error', () => {}); // a child that exits without reading its input is not our failure
    p.stdin.end(opts.input ?? '');
  });
}

/** Count of pixels whose RGB differs between two PNG files (sizes must match). */
export function pngDiff(a: string, b: string): { width: number; height: number; differing: number } {
  const pa = decodePng(readFileSync(a));
  const pb = decodePng(readFileSync(b));
  if (pa.width !== pb.width || pa.height !== pb.height) {
    throw new Error(`sizes differ: ${pa.width}x${pa.height} vs ${pb.width}x${pb.height}`);
  }
  let differing = 0;
  for (let i = 0; i < pa.rgba.length; i += 4) {
    if (pa.rgba[i] !== pb.rgba[i] || pa.rgba[i + 1] !== pb.rgba[i + 1] || pa.rgba[i + 2] !== pb.rgba[i + 2]) differing++;
  }
  return { width: pa.width, height: pa.height, differing };
}
