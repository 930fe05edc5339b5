import { Box, Text, useInput, useStdin, useStdout } from 'ink';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { SessionSnapshot } from '../../session/stats/snapshot.js';
import { CHANNEL_TABLE_WIDTH, ChannelTable, channelTableRows } from './channel-table.js';
import { cutAnsi, emptyHistory, isSixel, pushHistory, type RateHistory } from './format.js';
import { HELP_ROWS, HelpOverlay } from './help-overlay.js';
import { computeLayout, sameBox, type Box as CellBox, type TuiLayout } from './layout.js';
import { StatusBar } from './status-bar.js';
import { UsbPanel, usbPanelRows } from './usb-panel.js';

export interface AppProps {
  /** the numbers to show; null before the first poll */
  snapshot: SessionSnapshot | null;
  /**
   * The display area's content, pre-rendered for the box reported by onLayout:
   *  - undefined: there is no display renderer, no area is reserved;
   *  - null: an area is reserved and shows a placeholder (nothing drawn yet);
   *  - ANSI text (lines of half-blocks): drawn by Ink inside the area, clipped to it;
   *  - sixel (starts with ESC P / 0x90, see isSixel): the area is left blank and the caller
   *    writes the sixel over it, outside Ink (see sixel-overlay.ts).
   */
  display?: string | null;
  /** the display content is drawn over the area by the caller, outside Ink (as sixel always is): keep it blank */
  displayOverlaid?: boolean;
  /** recent rates per channel for the sparklines; App keeps its own from `snapshot` if omitted */
  history?: RateHistory;
  onQuit: () => void;
  /** takes a snapshot; returns (or resolves to) the file written, shown for a few seconds */
  onSnapshot?: () => string | Promise<string>;
  /** sends Ctrl-Alt-Del; throwing shows why it could not */
  onCtrlAltDel?: () => void;
  /** called when the layout changes (first render, resize, `d`, panels growing): size the display for layout.display */
  onLayout?: (layout: TuiLayout) => void;
  /** terminal size; default: Ink's stdout, followed on 'resize' */
  size?: { cols: number; rows: number };
  /** how long a transient message stays (ms) */
  messageMs?: number;
  /** start with the display area hidden */
  hideDisplay?: boolean;
  /** news from the caller, flashed like a key's message whenever its id changes */
  notice?: { text: string; id: number } | null;
}

/** The terminal's size, updated on 'resize' (SIGWINCH). */
export function useTerminalSize(override?: { cols: number; rows: number }): { cols: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize((prev) => {
      const next = read();
      return prev.cols === next.cols && prev.rows === next.rows ? prev : next;
    });
    stdout.on('resize', onResize);
    onResize(); // the size may have changed between the first render and this effect
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return override ?? size;
}

/** Bounded rate history built from successive snapshots (one sample a second, 16 kept). */
export function useRateHistory(snapshot: SessionSnapshot | null, samples = 16, everyMs = 1000): RateHistory {
  const ref = useRef<RateHistory>(emptyHistory());
  return useMemo(() => {
    if (snapshot) ref.current = pushHistory(ref.current, snapshot, samples, everyMs);
    return ref.current;
  }, [snapshot, samples, everyMs]);
}

/** A message that disappears after `ms`. */
function useTransientMessage(ms: number): [string | null, (text: string) => void] {
  const [msg, setMsg] = useState<{ text: string; id: number } | null>(null);
  const seq = useRef(0);
  useEffect(() => {
    if (!msg) return;
    const t = setTimeout(() => setMsg((m) => (m?.id === msg.id ? null : m)), ms);
    return () => clearTimeout(t);
  }, [msg, ms]);
  return [msg?.text ?? null, (text: string) => setMsg({ text, id: ++seq.current })];
}

function DisplayArea({ box, content, overlaid }: { box: CellBox; content: string | null; overlaid?: boolean }) {
  const size = { width: box.cols, height: box.rows, flexShrink: 0 } as const;
  // Sixel (or overlaid text): keep the cells blank; the image is written over them after Ink's frame.
  if (isSixel(content) || (overlaid && content !== null)) return <Box {...size} />;
  if (content === null) {
    return (
      <Box {...size} alignItems="center" justifyContent="center" borderStyle="single" borderDimColor>
        <Text dimColor>waiting for the display…</Text>
      </Box>
    );
  }
  const lines = content.split('\n', box.rows);
  return (
    <Box {...size} flexDirection="column" overflow="hidden">
      {lines.map((line, i) => (
        <Text key={i} wrap="truncate-end">{cutAnsi(line, box.cols)}</Text>
      ))}
    </Box>
  );
}

/** The live view: display area beside (wide terminals) or above the tables, status bar at the bottom. */
export function App(props: AppProps) {
  const { snapshot, display, onQuit, onSnapshot, onCtrlAltDel, onLayout, messageMs = 3000 } = props;
  const size = useTerminalSize(props.size);
  const [showDisplay, setShowDisplay] = useState(!props.hideDisplay);
  const [help, setHelp] = useState(false);
  const [message, flash] = useTransientMessage(messageMs);
  const ownHistory = useRateHistory(snapshot);
  const history = props.history ?? ownHistory;
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);
  const noticeId = props.notice?.id;
  useEffect(() => {
    if (props.notice) flash(props.notice.text);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [noticeId]);

  const nChannels = snapshot?.channels.length ?? 0;
  const nUsb = snapshot?.usb.length ?? 0;
  const panelRows = channelTableRows(nChannels) + usbPanelRows(nUsb) + (help ? HELP_ROWS : 0);
  const layout = useMemo(
    () => computeLayout({ cols: size.cols, rows: size.rows, showDisplay: showDisplay && display !== undefined, panelCols: CHANNEL_TABLE_WIDTH, panelRows }),
    [size.cols, size.rows, showDisplay, display !== undefined, panelRows],
  );

  const reported = useRef<TuiLayout | null>(null);
  useEffect(() => {
    const prev = reported.current;
    if (prev && prev.mode === layout.mode && prev.cols === layout.cols && prev.rows === layout.rows && sameBox(prev.display, layout.display)) return;
    reported.current = layout;
    onLayout?.(layout);
  }, [layout, onLayout]);

  const { isRawModeSupported } = useStdin();
  useInput(
    (input, key) => {
      if (input === 'q' || (key.ctrl && input === 'c')) {
        onQuit();
        return;
      }
      if (key.escape) {
        setHelp(false);
        return;
      }
      switch (input) {
        case '?':
          setHelp((h) => !h);
          break;
        case 'd':
          if (display === undefined) flash('no display renderer');
          else setShowDisplay((v) => !v);
          break;
        case 'k':
          if (!onCtrlAltDel) flash('Ctrl-Alt-Del is not available');
          else {
            try {
              onCtrlAltDel();
              flash('sent Ctrl-Alt-Del');
            } catch (e) {
              flash(`Ctrl-Alt-Del not sent: ${(e as Error)?.message ?? e}`);
            }
          }
          break;
        case 's':
          if (!onSnapshot) {
            flash('snapshots are not available');
            break;
          }
          try {
            const r = onSnapshot();
            if (typeof r === 'string') flash(`snapshot saved: ${r}`);
            else {
              flash('saving snapshot…');
              r.then(
                (path) => mounted.current && flash(`snapshot saved: ${path}`),
                (e: unknown) => mounted.current && flash(`snapshot failed: ${(e as Error)?.message ?? e}`),
              );
            }
          } catch (e) {
            flash(`snapshot failed: ${(e as Error)?.message ?? e}`);
          }
          break;
      }
    },
    { isActive: isRawModeSupported === true },
  );

  const side = layout.mode === 'side';
  return (
    <Box flexDirection="column" width={layout.cols} height={layout.rows}>
      <Box flexDirection={side ? 'row' : 'column'} height={layout.rows - 1} flexShrink={0}>
        {layout.display ? <DisplayArea box={layout.display} content={display ?? null} overlaid={props.displayOverlaid} /> : null}
        {side ? <Box width={1} flexShrink={0} /> : null}
        <Box flexDirection="column" width={layout.panel.cols} height={layout.panel.rows} overflow="hidden" flexShrink={0}>
          {help ? <HelpOverlay /> : null}
          <ChannelTable channels={snapshot?.channels ?? []} history={history.channels} />
          <UsbPanel usb={snapshot?.usb ?? []} />
        </Box>
      </Box>
      <StatusBar snapshot={snapshot} message={message} width={layout.cols} />
    </Box>
  );
}
