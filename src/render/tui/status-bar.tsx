import { Box, Text } from 'ink';
import type { SessionSnapshot } from '../../session/stats/snapshot.js';
import { formatDuration, formatMs } from './format.js';

export interface StatusBarProps {
  snapshot: Pick<SessionSnapshot, 'pingMs' | 'display' | 'mouseMode' | 'agentConnected' | 'uptimeMs'> | null;
  /** a transient message (e.g. the snapshot path) shown in place of the key hint */
  message?: string | null;
  width?: number;
}

export function statusText(s: StatusBarProps['snapshot']): string {
  if (!s) return 'connecting…';
  const display = s.display ? `${s.display.width}x${s.display.height} @ ${s.display.fps.toFixed(1)} fps` : '-';
  return [
    `ping ${formatMs(s.pingMs)}`,
    `display ${display}`,
    `mouse ${s.mouseMode ?? '-'}`,
    `agent ${s.agentConnected ? 'yes' : 'no'}`,
    `up ${formatDuration(s.uptimeMs)}`,
  ].join(' │ ');
}

/** One line: ping round trip, display size and fps, mouse mode, agent, uptime; then a hint or message. */
export function StatusBar({ snapshot, message, width }: StatusBarProps) {
  return (
    <Box width={width} flexShrink={0} justifyContent="space-between">
      <Box flexShrink={1}>
        <Text wrap="truncate-end">{statusText(snapshot)}</Text>
      </Box>
      <Box flexShrink={0} marginLeft={2}>
        {message ? <Text color="yellow">{message}</Text> : <Text dimColor>? help  q quit</Text>}
      </Box>
    </Box>
  );
}
