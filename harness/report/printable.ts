/**
 * Text from outside (kernel log lines, names, reasons) as a terminal or a
 * line format may show it: escape sequences and other control characters
 * become visible `\x1b` escapes instead of acting on the terminal.
 */
export function printable(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
