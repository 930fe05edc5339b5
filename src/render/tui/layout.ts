// Where things go on the screen, as a pure function of the terminal size, so the App, the
// code that sizes the display image and the code that places sixel all agree on one box.
// Coordinates are 0-based cells relative to the App's first row and column; the live view
// runs on the alternate screen with Ink's output starting at the top-left, so they are
// also screen coordinates (row y + 1, column x + 1 in CSI H terms).

export interface Box {
  x: number;
  y: number;
  cols: number;
  rows: number;
}

export interface TuiLayout {
  /** the App's size: the terminal width, and one row less than its height (Ink's last newline) */
  cols: number;
  rows: number;
  /** 'side': display left, panels right; 'below': display on top, panels under it; 'none': no display */
  mode: 'side' | 'below' | 'none';
  display: Box | null;
  panel: Box;
  status: Box;
}

export const MIN_DISPLAY_COLS = 40;
export const MIN_DISPLAY_ROWS = 6;

export interface LayoutInput {
  /** terminal size */
  cols: number;
  rows: number;
  /** a display area is wanted (there is a renderer and the user has not hidden it) */
  showDisplay: boolean;
  /** natural size of the panels (tables, help) */
  panelCols: number;
  panelRows: number;
}

export function computeLayout(i: LayoutInput): TuiLayout {
  const cols = Math.max(1, Math.floor(i.cols));
  const rows = Math.max(2, Math.floor(i.rows) - 1);
  const body = rows - 1;
  const status: Box = { x: 0, y: body, cols, rows: 1 };
  if (i.showDisplay) {
    const sideCols = cols - i.panelCols - 1;
    if (sideCols >= MIN_DISPLAY_COLS && body >= MIN_DISPLAY_ROWS) {
      return {
        cols, rows, mode: 'side', status,
        display: { x: 0, y: 0, cols: sideCols, rows: body },
        panel: { x: sideCols + 1, y: 0, cols: cols - sideCols - 1, rows: body },
      };
    }
    const displayRows = body - i.panelRows;
    if (displayRows >= MIN_DISPLAY_ROWS) {
      return {
        cols, rows, mode: 'below', status,
        display: { x: 0, y: 0, cols, rows: displayRows },
        panel: { x: 0, y: displayRows, cols, rows: body - displayRows },
      };
    }
  }
  return { cols, rows, mode: 'none', status, display: null, panel: { x: 0, y: 0, cols, rows: body } };
}

export const sameBox = (a: Box | null | undefined, b: Box | null | undefined) =>
  a === b || (!!a && !!b && a.x === b.x && a.y === b.y && a.cols === b.cols && a.rows === b.rows);
