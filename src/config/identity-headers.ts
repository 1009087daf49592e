/** Which headers may carry a claim to the upstream. */
/** Headers a claim may never be written to: the request's own framing, credentials and the trust headers. */
const FORBIDDEN_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'authorization', 'host', 'cookie', 'set-cookie', 'content-length', 'content-type',
  'forwarded', 'x-real-ip', 'x-request-id', 'traceparent', 'tracestate',
]);
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function identityHeaderProblem(name: string): string | null {
  const lower = name.toLowerCase();
  if (lower.startsWith(':')) return `"${name}" is a pseudo-header`;
  if (!HEADER_NAME.test(name)) return `"${name}" is not a valid header name`;
  if (FORBIDDEN_HEADERS.has(lower)) return `"${name}" may not carry a claim (hop-by-hop, credential or framing header)`;
  if (lower.startsWith('x-forwarded-') || lower.startsWith('x-original-') || lower.startsWith('x-envoy-')) {
    return `"${name}" may not carry a claim (the proxies' trust headers)`;
  }
  return null;
}
