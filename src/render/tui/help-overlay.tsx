import { Box, Text } from 'ink';

export const KEYS: readonly (readonly [string, string])[] = [
  ['q', 'quit (Ctrl-C too)'],
  ['d', 'show / hide the display'],
  ['s', 'save a snapshot of the display'],
  ['k', 'send Ctrl-Alt-Del to the guest'],
  ['?', 'this help (Esc closes it)'],
];

/** Rows the overlay takes: border, title, one line a key. */
export const HELP_ROWS = KEYS.length + 3;

export function HelpOverlay() {
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="cyan" paddingX={1} flexShrink={0} alignSelf="flex-start">
      <Text bold>keys</Text>
      {KEYS.map(([k, what]) => (
        <Text key={k}>
          <Text color="cyan" bold>{k.padEnd(3)}</Text>
          {what}
        </Text>
      ))}
    </Box>
  );
}
