// Disk and CD images for USB tests: a FAT image with files (mkfs.vfat + mtools), an ISO (genisoimage).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ImageFiles {
  path: string;
  /** file name -> md5 */
  md5: Record<string, string>;
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

export function makeFatImage(dir: string, name: string, files: Record<string, Buffer>, sizeKiB = 16384): ImageFiles {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  execFileSync('mkfs.vfat', ['-C', path, String(sizeKiB)], { stdio: 'ignore' });
  const out: Record<string, string> = {};
  for (const [f, data] of Object.entries(files)) {
    const src = join(dir, `${name}.${f}`);
    writeFileSync(src, data);
    execFileSync('mcopy', ['-i', path, src, `::${f}`]);
    out[f] = md5(data);
  }
  return { path, md5: out };
}

export function makeIso(dir: string, name: string, files: Record<string, Buffer>): ImageFiles {
  const root = join(dir, `${name}.root`);
  mkdirSync(root, { recursive: true });
  const out: Record<string, string> = {};
  for (const [f, data] of Object.entries(files)) {
    writeFileSync(join(root, f), data);
    out[f] = md5(data);
  }
  const path = join(dir, name);
  execFileSync('genisoimage', ['-quiet', '-o', path, '-R', '-J', root]);
  return { path, md5: out };
}

export const randomFile = (bytes: number) => randomBytes(bytes);
/** Compressible content (text-like), so LZ4 has something to do. */
export const textFile = (bytes: number) => Buffer.from(Array.from({ length: Math.ceil(bytes / 8) }, (_, i) => `${String(i).padStart(7, '0')}\n`).join('')).subarray(0, bytes);

export function fileMd5(path: string): string {
  return md5(readFileSync(path));
}

/** mtools read of one file from a FAT image. */
export function mtype(image: string, file: string): Buffer {
  return execFileSync('mtype', ['-i', image, `::${file}`]);
}

/** fsck.vfat -n: true when the filesystem is clean. */
export function fsckClean(image: string): { clean: boolean; output: string } {
  try {
    const output = execFileSync('fsck.vfat', ['-n', image], { encoding: 'utf8' });
    return { clean: true, output };
  } catch (e) {
    return { clean: false, output: String((e as { stdout?: string }).stdout ?? e) };
  }
}
