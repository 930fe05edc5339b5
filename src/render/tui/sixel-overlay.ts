// How a sixel display coexists with Ink (no Ink import here).
//
// Ink owns the screen as text: every frame it moves up over its previous output, erases those
// lines and writes the new ones. Sixel is not text Ink can measure or diff, so it never goes
// through Ink. Instead:
//  1. The App reserves the display area as blank cells (a Box of the size the layout gives) and
//     the live view runs on the alternate screen, so Ink's output starts at the top-left cell
//     and the area's screen position is known: row y + 1, column x + 1 (see layout.ts).
//  2. Ink is handed a proxy of stdout. Each frame Ink writes (any write with a newline) has the
//     current image appended in the same write: save cursor (ESC 7), move to the area (CSI
//     row;col H), the sixel, restore cursor (ESC 8). Ink's bookkeeping is in lines above its
//     cursor, which ESC 7/8 leave untouched. Being in the same write keeps it inside Ink's
//     synchronized-update bracket (CSI ?2026 h/l), so erasing and redrawing do not flicker.
//  3. A new image (set()) is written at once, unless Ink writes a frame first in the same turn
//     of the event loop, in which case that frame carries it. Frames Ink skips (no change)
//     leave the image on screen as it was.
//  4. While `busy()` says the terminal has not consumed what it was sent (see tty-writer.ts), the
//     image is left out (frames are dropped, never queued) and drawn again at the next set().
// The renderer must size the image to the area (cols x rows cells; the cell size in pixels is
// the terminal's: CSI 16 t asks for it) and keep it off the last row so the terminal never scrolls.

export interface SixelOverlay {
  /** the stream to give Ink: the real stdout, with frame writes followed by the image */
  readonly stream: NodeJS.WriteStream;
  /** show this sixel with its top-left at cell (x, y), 0-based; null removes it from later frames */
  set(sixel: string | null, at?: { x: number; y: number } | null): void;
  /** the bytes that draw the current image where it belongs ('' for none) */
  sequence(): string;
}

/** Save the cursor, draw the sixel at (x, y) (0-based cells), restore the cursor. */
export const placeSixel = (sixel: string, x: number, y: number): string => `\x1b7\x1b[${y + 1};${x + 1}H${sixel}\x1b8`;

export function createSixelOverlay(out: NodeJS.WriteStream, opts: { busy?: () => boolean } = {}): SixelOverlay {
  let seq = '';
  let pending = false;
  // The image was left out of a frame (the terminal was still busy): draw it at the next chance.
  let owed = false;
  const busy = opts.busy ?? (() => false);

  const write = (chunk: unknown, ...rest: unknown[]): boolean => {
    if (seq && typeof chunk === 'string' && chunk.includes('\n')) {
      // Frames are never held back; the image is dropped from them while the terminal lags.
      if (busy()) owed = true;
      else {
        chunk += seq;
        owed = false;
      }
      pending = false;
    }
    return (out.write as (...a: unknown[]) => boolean)(chunk, ...rest);
  };

  const stream = new Proxy(out, {
    get(target, prop) {
      if (prop === 'write') return write;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });

  return {
    stream,
    set(sixel, at) {
      const next = sixel && at ? placeSixel(sixel, at.x, at.y) : '';
      if (next === seq && !(owed && seq)) return;
      seq = next;
      if (!seq) {
        pending = false;
        owed = false;
        return;
      }
      pending = true;
      setImmediate(() => {
        if (!pending) return;
        pending = false;
        if (busy()) {
          owed = true;
          return;
        }
        owed = false;
        out.write(seq);
      });
    },
    sequence: () => seq,
  };
}
