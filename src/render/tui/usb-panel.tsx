import { Box } from 'ink';
import type { UsbSnapshot } from '../../session/stats/snapshot.js';
import { Cell, rowWidth } from './cell.js';
import { formatBytes, formatLimit, formatRatio } from './format.js';

// device (then its channel), direction, payload, wire, ratio, lz4, limit
const W = [24, 3, 10, 10, 7, 3, 12] as const;
export const USB_PANEL_WIDTH = rowWidth(W);

/** Height in rows: nothing without devices, else a gap line, a header and two rows a device. */
export const usbPanelRows = (n: number) => (n ? 2 + 2 * n : 0);

/**
 * Each redirected device: payload vs wire bytes per direction ("in" = received from the
 * server, "out" = sent to it), the payload/wire ratio per direction (> 1 means LZ4 saved
 * bytes), whether LZ4 is on, and the bandwidth limit in force.
 */
export function UsbPanel({ usb }: { usb: readonly UsbSnapshot[] }) {
  if (!usb.length) return null;
  return (
    <Box flexDirection="column" marginTop={1} flexShrink={0}>
      <Box>
        <Cell w={W[0]} bold>usb device</Cell>
        <Cell w={W[1]} bold>dir</Cell>
        <Cell w={W[2]} right bold>payload</Cell>
        <Cell w={W[3]} right bold>wire</Cell>
        <Cell w={W[4]} right bold>ratio</Cell>
        <Cell w={W[5]} bold>lz4</Cell>
        <Cell w={W[6]} bold last>limit</Cell>
      </Box>
      {usb.map((u) => (
        <Box key={u.channel} flexDirection="column">
          <Box>
            <Cell w={W[0]}>{u.device}</Cell>
            <Cell w={W[1]}>in</Cell>
            <Cell w={W[2]} right>{formatBytes(u.payloadIn)}</Cell>
            <Cell w={W[3]} right>{formatBytes(u.wireIn)}</Cell>
            <Cell w={W[4]} right color={ratioColor(u.ratioIn)}>{formatRatio(u.ratioIn)}</Cell>
            <Cell w={W[5]} color={u.lz4 ? 'green' : undefined}>{u.lz4 ? 'on' : 'off'}</Cell>
            <Cell w={W[6]} last>{formatLimit(u.limit)}</Cell>
          </Box>
          <Box>
            <Cell w={W[0]} dim>{`  ${u.channel}`}</Cell>
            <Cell w={W[1]}>out</Cell>
            <Cell w={W[2]} right>{formatBytes(u.payloadOut)}</Cell>
            <Cell w={W[3]} right>{formatBytes(u.wireOut)}</Cell>
            <Cell w={W[4]} right color={ratioColor(u.ratioOut)}>{formatRatio(u.ratioOut)}</Cell>
            <Cell w={W[5]}>{' '}</Cell>
            <Cell w={W[6]} last>{' '}</Cell>
          </Box>
        </Box>
      ))}
    </Box>
  );
}

const ratioColor = (r: number | null) => (r === null ? undefined : r > 1.05 ? 'green' : r < 0.95 ? 'yellow' : undefined);
