// The live view (Ink). Off a TTY, import './stats-line.js' instead: it does not load Ink.
export { startTui, LiveApp, MIN_REFRESH_MS, type TuiOptions, type TuiHandle, type LiveAppProps } from './run-tui.js';
export { App, useRateHistory, useTerminalSize, type AppProps } from './app.js';
export { ChannelTable, CHANNEL_TABLE_WIDTH, type ChannelTableProps } from './channel-table.js';
export { UsbPanel } from './usb-panel.js';
export { StatusBar, type StatusBarProps } from './status-bar.js';
export { HelpOverlay, KEYS } from './help-overlay.js';
export { computeLayout, type TuiLayout, type Box as CellBox } from './layout.js';
export { createSixelOverlay, placeSixel, type SixelOverlay } from './sixel-overlay.js';
export * from './format.js';
