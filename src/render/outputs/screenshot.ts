import { writeFileSync, renameSync } from 'node:fs';
import { SpiceError } from '../../util/errors.js';
import type { Surface } from '../surface.js';
import { encodePng } from './png.js';

/** Writes the surface as an RGBA PNG atomically (temp file + rename), so a reader never sees half a file. */
export function writeSurfacePng(surface: Surface, file: string): void {
  const png = encodePng(surface.width, surface.height, surface.toRGBA());
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, png);
    renameSync(tmp, file);
  } catch (e) {
    throw new SpiceError('input', `cannot write screenshot ${file}: ${(e as Error).message}`);
  }
}
