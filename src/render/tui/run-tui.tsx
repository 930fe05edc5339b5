// Entry point of the live view: startTui() mounts the App with Ink, polls the session's
// snapshot at a bounded rate and gives the terminal back as it found it.
import { render } from 'ink';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { SessionSnapshot } from '../../session/stats/snapshot.js';
import { App } from './app.js';
import { isSixel } from './format.js';
import { sameBox, type Box as CellBox, type TuiLayout } from './layout.js';
import { createSixelOverlay } from './sixel-overlay.js';
import { createTtyWriter, type TtyWriter } from './tty-writer.js';

/** The poll interval is never below this, whatever the caller asks. */
export const MIN_REFRESH_MS = 50;

export interface LiveAppProps {
  /** called once at mount, then once every refreshMs; must be cheap (snapshot() is O(channels)) */
  getSnapshot: () => SessionSnapshot;
  refreshMs?: number;
  /**
   * Renders the display for a box of cols x rows cells, at most once a refresh and only while
   * the display area is shown: ANSI text (half-blocks, rows lines) or sixel (see sixel-overlay.ts).
   * null means nothing to show yet.
   */
  renderDisplay?: (cols: number, rows: number) => string | null;
  onQuit: () => void;
  onSnapshot?: () => string | Promise<string>;
  onCtrlAltDel?: () => void;
  /** where the sixel image must go now (null: nowhere); startTui wires this to the overlay */
  onSixel?: (sixel: string | null, at: CellBox | null) => void;
  /**
   * ANSI display text goes through onSixel too (written over a blank area, outside Ink) instead
   * of being laid out by Ink: Ink measures and cuts every line of escape-laden text each frame,
   * which costs the event loop tens of ms for a large picture. startTui turns this on.
   */
  overlayText?: boolean;
  size?: { cols: number; rows: number };
  messageMs?: number;
  hideDisplay?: boolean;
  /** polled once a refresh: a line of news (e.g. "redirected: ..."), flashed when it changes */
  getNotice?: () => string | null;
}

const attempt = <T,>(f: () => T, fallback: T): T => {
  try {
    return f();
  } catch {
    return fallback;
  }
};

/** The App fed by polling: one getSnapshot (and at most one renderDisplay) a refresh, no other work. */
export function LiveApp(props: LiveAppProps) {
  const { getSnapshot, refreshMs = 250, renderDisplay, onSixel } = props;
  const [state, setState] = useState<{ snap: SessionSnapshot | null; display: string | null; overlaid: boolean; notice: { text: string; id: number } | null }>(() => ({
    snap: attempt(getSnapshot, null),
    display: null,
    overlaid: false,
    notice: null,
  }));
  const layout = useRef<TuiLayout | null>(null);
  // The latest callbacks, so the interval set up once never calls stale ones.
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const every = Math.max(MIN_REFRESH_MS, refreshMs);
    const timer = setInterval(() => {
      const p = latest.current;
      const box = layout.current?.display ?? null;
      const display = p.renderDisplay && box ? attempt(() => p.renderDisplay!(box.cols, box.rows), null) : null;
      // Text written outside Ink must start at the area's left edge (lines end with a newline).
      const overlaid = display !== null && (isSixel(display) || (!!p.overlayText && !!p.onSixel && box?.x === 0));
      p.onSixel?.(overlaid ? display : null, overlaid ? box : null);
      const snap = attempt<SessionSnapshot | null>(p.getSnapshot, null);
      const notice = p.getNotice ? attempt(p.getNotice, null) : null;
      setState((prev) => ({
        snap: snap ?? prev.snap,
        display,
        overlaid,
        notice: notice && notice !== prev.notice?.text ? { text: notice, id: (prev.notice?.id ?? 0) + 1 } : prev.notice,
      }));
    }, every);
    return () => clearInterval(timer);
  }, [refreshMs]);

  const onLayout = useCallback(
    (l: TuiLayout) => {
      const moved = !sameBox(layout.current?.display, l.display);
      layout.current = l;
      // A sixel image is now the wrong size or place (or its area is gone): stop drawing it
      // until the next refresh renders one for the new box. Text is clipped by Ink meanwhile.
      if (moved) onSixel?.(null, null);
    },
    [onSixel],
  );

  return (
    <App
      snapshot={state.snap}
      display={renderDisplay ? state.display : undefined}
      displayOverlaid={state.overlaid}
      onQuit={props.onQuit}
      onSnapshot={props.onSnapshot}
      onCtrlAltDel={props.onCtrlAltDel}
      onLayout={onLayout}
      size={props.size}
      messageMs={props.messageMs}
      hideDisplay={props.hideDisplay}
      notice={state.notice}
    />
  );
}

export interface TuiOptions extends Omit<LiveAppProps, 'onSixel' | 'size'> {
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  /** use the alternate screen (needed for sixel placement); default: when stdout is a TTY */
  altScreen?: boolean;
  /** write every frame whole, as ink-testing-library does (for tests; Ink writes nothing in CI otherwise) */
  debug?: boolean;
  /**
   * write to the terminal from a worker thread (see tty-writer.ts), so a slow terminal never
   * blocks the event loop; default: when stdout is the process's own TTY
   */
  asyncWrites?: boolean;
  /** written when the terminal is given back, before leaving the alternate screen (e.g. a mode reset) */
  restore?: string;
}

export interface TuiHandle {
  /** unmount and restore the terminal; idempotent, synchronous */
  stop(): void;
  /** settles once the view is gone and the terminal restored (q, Ctrl-C or stop()); rejects if rendering failed */
  done: Promise<void>;
}

export const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H\x1b[2J';
export const LEAVE_ALT_SCREEN = '\x1b[?1049l';
export const SHOW_CURSOR = '\x1b[?25h';

/** Characters still on their way to the terminal past which sixel images are dropped. */
export const SIXEL_BACKLOG_LIMIT = 64 * 1024;

/**
 * Starts the live view. `q` (or Ctrl-C) restores the terminal first, then calls onQuit, so
 * whatever the caller prints once `done` settles lands on the normal screen. The caller owns the
 * session: the view never closes it.
 */
export function startTui(opts: TuiOptions): TuiHandle {
  const out = opts.stdout ?? process.stdout;
  const inp = opts.stdin ?? process.stdin;
  const tty = out.isTTY === true;
  const alt = opts.altScreen ?? tty;
  let writer: TtyWriter | null = null;
  if (opts.asyncWrites ?? (out === process.stdout && tty)) {
    try {
      writer = createTtyWriter(out);
    } catch {
      writer = null;
    }
  }
  const term = writer?.stream ?? out;
  const overlay = createSixelOverlay(term, { busy: () => (writer?.backlog() ?? 0) > SIXEL_BACKLOG_LIMIT });
  let unmounted = false;
  let restored = false;

  const restoreSequence = () => (opts.restore ?? '') + (alt ? LEAVE_ALT_SCREEN : '') + (tty ? SHOW_CURSOR : '');
  const restoreTerminal = (atExit = false) => {
    if (restored) return;
    restored = true;
    overlay.set(null);
    process.off('exit', onExit);
    const raw = inp as NodeJS.ReadStream & { isRaw?: boolean };
    if (raw.isTTY && raw.isRaw) attempt(() => raw.setRawMode(false), undefined);
    const seq = restoreSequence();
    if (!seq) return;
    // At exit the worker cannot finish: write directly (what it still held is lost anyway).
    if (atExit) attempt(() => out.write(seq), false);
    else term.write(seq);
  };
  // Last resort when the process ends without stop() (process.exit elsewhere).
  const onExit = () => restoreTerminal(true);
  process.on('exit', onExit);

  if (alt) term.write(ENTER_ALT_SCREEN);

  const stop = () => {
    if (unmounted) return;
    unmounted = true;
    overlay.set(null);
    instance.unmount();
    restoreTerminal();
  };

  const instance = render(
    <LiveApp
      getSnapshot={opts.getSnapshot}
      refreshMs={opts.refreshMs}
      renderDisplay={opts.renderDisplay}
      onQuit={() => {
        stop();
        opts.onQuit();
      }}
      onSnapshot={opts.onSnapshot}
      onCtrlAltDel={opts.onCtrlAltDel}
      onSixel={(sixel, at) => overlay.set(sixel, at)}
      overlayText
      messageMs={opts.messageMs}
      hideDisplay={opts.hideDisplay}
      getNotice={opts.getNotice}
    />,
    {
      stdout: overlay.stream,
      stdin: inp,
      exitOnCtrlC: false,
      patchConsole: false,
      debug: opts.debug,
      // Only the lines that changed are rewritten: far less for the terminal to parse.
      incrementalRendering: false,
    },
  );

  const finish = async () => {
    unmounted = true;
    restoreTerminal();
    await writer?.close();
  };
  const done = instance.waitUntilExit().then(finish, async (e: unknown) => {
    await finish();
    throw e;
  });
  return { stop, done };
}
