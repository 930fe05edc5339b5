// Entry point of the live view: startTui() mounts the App with Ink, polls the session's
// snapshot at a bounded rate and gives the terminal back as it found it.
import { render } from 'ink';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { SessionSnapshot } from '../../session/stats/snapshot.js';
import { App } from './app.js';
import { isSixel } from './format.js';
import { sameBox, type Box as CellBox, type TuiLayout } from './layout.js';
import { createSixelOverlay } from './sixel-overlay.js';

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
  size?: { cols: number; rows: number };
  messageMs?: number;
  hideDisplay?: boolean;
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
  const [state, setState] = useState<{ snap: SessionSnapshot | null; display: string | null }>(() => ({
    snap: attempt(getSnapshot, null),
    display: null,
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
      p.onSixel?.(isSixel(display) ? display : null, isSixel(display) ? box : null);
      const snap = attempt<SessionSnapshot | null>(p.getSnapshot, null);
      setState((prev) => ({ snap: snap ?? prev.snap, display }));
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
      onQuit={props.onQuit}
      onSnapshot={props.onSnapshot}
      onCtrlAltDel={props.onCtrlAltDel}
      onLayout={onLayout}
      size={props.size}
      messageMs={props.messageMs}
      hideDisplay={props.hideDisplay}
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
}

export interface TuiHandle {
  /** unmount and restore the terminal; idempotent, synchronous */
  stop(): void;
  /** settles once the view is gone (q, Ctrl-C or stop()); rejects if rendering failed */
  done: Promise<void>;
}

export const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H\x1b[2J';
export const LEAVE_ALT_SCREEN = '\x1b[?1049l';
export const SHOW_CURSOR = '\x1b[?25h';

/**
 * Starts the live view. `q` (or Ctrl-C) restores the terminal first, then calls onQuit, so
 * whatever the caller prints next lands on the normal screen. The caller owns the session:
 * the view never closes it.
 */
export function startTui(opts: TuiOptions): TuiHandle {
  const out = opts.stdout ?? process.stdout;
  const inp = opts.stdin ?? process.stdin;
  const tty = out.isTTY === true;
  const alt = opts.altScreen ?? tty;
  const overlay = createSixelOverlay(out);
  let unmounted = false;
  let restored = false;

  const restoreTerminal = () => {
    if (restored) return;
    restored = true;
    overlay.set(null);
    process.off('exit', restoreTerminal);
    const raw = inp as NodeJS.ReadStream & { isRaw?: boolean };
    if (raw.isTTY && raw.isRaw) attempt(() => raw.setRawMode(false), undefined);
    if (alt) out.write(LEAVE_ALT_SCREEN);
    if (tty) out.write(SHOW_CURSOR);
  };
  // Last resort when the process ends without stop() (process.exit elsewhere).
  process.on('exit', restoreTerminal);

  if (alt) out.write(ENTER_ALT_SCREEN);

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
      messageMs={opts.messageMs}
      hideDisplay={opts.hideDisplay}
    />,
    { stdout: overlay.stream, stdin: inp, exitOnCtrlC: false, patchConsole: false, debug: opts.debug },
  );

  const done = instance.waitUntilExit().then(
    () => {
      unmounted = true;
      restoreTerminal();
    },
    (e: unknown) => {
      unmounted = true;
      restoreTerminal();
      throw e;
    },
  );
  return { stop, done };
}
