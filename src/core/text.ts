/** Text that came from a request or a token, bounded before it goes into a message, a log line or a span. */
export function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
