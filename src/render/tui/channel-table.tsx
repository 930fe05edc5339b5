import { Box, Text } from 'ink';
import type { ChannelSnapshot } from '../../session/stats/snapshot.js';
import { Cell, rowWidth } from './cell.js';
import { formatBytes, formatRate, sparkline, type RateHistory } from './format.js';

export const SPARK_WIDTH = 7;
// channel, state, bytes in, bytes out, rate in, spark in, rate out, spark out, messages, tls:
// 99 columns, so the whole table fits a 100-column terminal (narrower ones cut the right side).
const W = [11, 10, 9, 9, 11, SPARK_WIDTH, 11, SPARK_WIDTH, 12, 3] as const;
export const CHANNEL_TABLE_WIDTH = rowWidth(W);

export const stateColor = (state: string): string | undefined =>
  state === 'ready' ? 'green' : state === 'failed' ? 'red' : state === 'closed' ? 'gray' : 'yellow';

export interface ChannelTableProps {
  channels: readonly ChannelSnapshot[];
  /** recent rates per channel name, oldest first (see pushHistory); empty sparklines without it */
  history?: RateHistory['channels'];
}

/** Height in rows for `n` channels (header + one row each, or a placeholder line). */
export const channelTableRows = (n: number) => 1 + Math.max(1, n);

/** Per-channel bytes, rates over the stats window with a sparkline of recent rates, messages, TLS. */
export function ChannelTable({ channels, history }: ChannelTableProps) {
  return (
    <Box flexDirection="column" flexShrink={0}>
      <Box>
        <Cell w={W[0]} bold>channel</Cell>
        <Cell w={W[1]} bold>state</Cell>
        <Cell w={W[2]} right bold>in</Cell>
        <Cell w={W[3]} right bold>out</Cell>
        <Cell w={W[4]} right bold>rate in</Cell>
        <Cell w={W[5]} bold>{' '}</Cell>
        <Cell w={W[6]} right bold>rate out</Cell>
        <Cell w={W[7]} bold>{' '}</Cell>
        <Cell w={W[8]} right bold>msgs in/out</Cell>
        <Cell w={W[9]} bold last>tls</Cell>
      </Box>
      {channels.length === 0 ? <Text dimColor>no channels yet</Text> : null}
      {channels.map((c) => {
        const h = history?.[c.name];
        return (
          <Box key={c.name}>
            <Cell w={W[0]}>{c.name}</Cell>
            <Cell w={W[1]} color={stateColor(c.state)}>{c.state}</Cell>
            <Cell w={W[2]} right>{formatBytes(c.bytesIn)}</Cell>
            <Cell w={W[3]} right>{formatBytes(c.bytesOut)}</Cell>
            <Cell w={W[4]} right>{formatRate(c.rateIn)}</Cell>
            <Cell w={W[5]} color="cyan">{sparkline(h?.in ?? [], SPARK_WIDTH)}</Cell>
            <Cell w={W[6]} right>{formatRate(c.rateOut)}</Cell>
            <Cell w={W[7]} color="magenta">{sparkline(h?.out ?? [], SPARK_WIDTH)}</Cell>
            <Cell w={W[8]} right>{`${c.messagesIn}/${c.messagesOut}`}</Cell>
            <Cell w={W[9]} last color={c.tls ? 'green' : undefined}>{c.tls ? 'yes' : 'no'}</Cell>
          </Box>
        );
      })}
    </Box>
  );
}
