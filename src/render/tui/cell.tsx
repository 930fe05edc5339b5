import { Box, Text } from 'ink';
import type { ReactNode } from 'react';

/** One fixed-width table cell; text is cut, never wrapped, so rows stay one line high. */
export function Cell(props: { w: number; right?: boolean; color?: string; dim?: boolean; bold?: boolean; last?: boolean; children: ReactNode }) {
  return (
    <Box width={props.w} flexShrink={0} marginRight={props.last ? 0 : 1} justifyContent={props.right ? 'flex-end' : 'flex-start'}>
      <Text wrap="truncate-end" color={props.color} dimColor={props.dim} bold={props.bold}>
        {props.children}
      </Text>
    </Box>
  );
}

/** Total width of a row of cells of these widths (one space between cells). */
export const rowWidth = (widths: readonly number[]) => widths.reduce((a, b) => a + b, 0) + widths.length - 1;
