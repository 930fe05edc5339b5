// What the terminal can draw, asked before the live view starts (no Ink here).
//
// One write of queries, answered in order, the primary device attributes (DA1) last:
//   CSI 16 t        cell size in pixels          -> CSI 6 ; height ; width t   (xterm: only with allowWindowOps)
//   CSI ? 2 ; 1 ; 0 S  sixel graphics area (XTSMGRAPHICS) -> CSI ? 2 ; 0 ; width ; height S
//   CSI ? 1 ; 1 ; 0 S  colour registers          -> CSI ? 1 ; 0 ; n S
//   CSI c           DA1                          -> CSI ? 6x ; attr ; ... c    (attribute 4 = sixel)
// Every terminal answers DA1, so its reply ends the wait; a terminal that answers nothing costs the
// timeout. The cell size falls back to the graphics area divided by the terminal's columns and rows
// (an under-estimate when the area is capped, which only makes the picture smaller).

export interface TerminalInfo {
  /** the terminal answered DA1 */
  replied: boolean;
  /** DA1 lists attribute 4 (sixel graphics) */
  sixel: boolean;
  /** DA1 parameters as sent */
  attributes: number[];
  /** pixel size of one cell, when known */
  cell: { width: number; height: number } | null;
  /** the sixel graphics area in pixels (XTSMGRAPHICS), when known */
  graphics: { width: number; height: number } | null;
  /** colour registers for sixel (XTSMGRAPHICS), when known */
  colorRegisters: number | null;
}

export const TERMINAL_QUERIES = '\x1b[16t\x1b[?2;1;0S\x1b[?1;1;0S\x1b[c';

/** Parses whatever replies arrived (pure). `size` gives the fallback cell size from the graphics area. */
export function parseTerminalReplies(s: string, size?: { cols: number; rows: number }): TerminalInfo {
  const da = /\x1b\[\?([\d;]*)c/.exec(s);
  const attributes = da ? da[1]!.split(';').filter(Boolean).map(Number) : [];
  const cs = /\x1b\[6;(\d+);(\d+)t/.exec(s);
  const gr = /\x1b\[\?2;0;(\d+);(\d+)S/.exec(s);
  const cr = /\x1b\[\?1;0;(\d+)S/.exec(s);
  const graphics = gr ? { width: Number(gr[1]), height: Number(gr[2]) } : null;
  let cell = cs ? { width: Number(cs[2]), height: Number(cs[1]) } : null;
  if (cell && !(cell.width > 0 && cell.height > 0)) cell = null;
  if (!cell && graphics && size && size.cols > 0 && size.rows > 0) {
    const w = Math.floor(graphics.width / size.cols);
    const h = Math.floor(graphics.height / size.rows);
    if (w > 0 && h > 0) cell = { width: w, height: h };
  }
  return {
    replied: !!da,
    sixel: attributes.slice(1).includes(4),
    attributes,
    cell,
    graphics,
    colorRegisters: cr ? Number(cr[1]) : null,
  };
}

/**
 * Sends the queries and collects replies until DA1 answers or `timeoutMs` passes. Needs a TTY on
 * both sides (else resolves at once with nothing known). With `colorRegisters`, a terminal that
 * reports fewer sixel colour registers is asked for that many (reset with RESET_COLOR_REGISTERS),
 * in a second exchange so its answer never reaches the next reader of stdin. Leaves stdin paused
 * and in the mode it found it, ready for Ink.
 */
export async function queryTerminal(
  stdin: NodeJS.ReadStream = process.stdin,
  stdout: NodeJS.WriteStream = process.stdout,
  opts: { timeoutMs?: number; colorRegisters?: number } = {},
): Promise<TerminalInfo & { colorRegistersSet: boolean }> {
  const size = { cols: stdout.columns ?? 0, rows: stdout.rows ?? 0 };
  if (!stdin.isTTY || !stdout.isTTY) return { ...parseTerminalReplies('', size), colorRegistersSet: false };
  const timeoutMs = opts.timeoutMs ?? 400;
  const wasRaw = stdin.isRaw;
  const exchange = (query: string) =>
    new Promise<string>((resolve) => {
      let got = '';
      const finish = () => {
        clearTimeout(timer);
        stdin.off('data', onData);
        resolve(got);
      };
      const onData = (d: Buffer | string) => {
        got += typeof d === 'string' ? d : d.toString('latin1');
        if (/\x1b\[\?[\d;]*c/.test(got)) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      stdin.on('data', onData);
      stdin.resume();
      stdout.write(query);
    });
  try {
    stdin.setRawMode(true);
    const info = parseTerminalReplies(await exchange(TERMINAL_QUERIES), size);
    let colorRegistersSet = false;
    if (opts.colorRegisters && info.sixel && info.colorRegisters !== null && info.colorRegisters < opts.colorRegisters) {
      const r = /\x1b\[\?1;0;(\d+)S/.exec(await exchange(`${setColorRegisters(opts.colorRegisters)}\x1b[?1;1;0S\x1b[c`));
      if (r) info.colorRegisters = Number(r[1]);
      colorRegistersSet = true;
    }
    return { ...info, colorRegistersSet };
  } finally {
    stdin.pause();
    try {
      stdin.setRawMode(wasRaw);
    } catch {
      /* not a TTY after all */
    }
  }
}

/** XTSMGRAPHICS: ask for this many sixel colour registers, and the reset to the default. */
export const setColorRegisters = (n: number) => `\x1b[?1;3;${n}S`;
export const RESET_COLOR_REGISTERS = '\x1b[?1;2;0S';
