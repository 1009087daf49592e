/**
 * The HTTP listener's node:http server settings, in a module of their own (no imports) so the bench floors can use
 * the same settings without loading Portcullis: they parse requests exactly as our listener does.
 */
export const HTTP_LISTENER_OPTIONS = Object.freeze({
  // Forwarded requests carry the client's whole header block (big cookies, long JWTs). node's default is 16 KiB;
  // 64 KiB sits just above Envoy's default max_request_headers_kb (60) so we never refuse what a proxy accepted.
  maxHeaderSize: 64 * 1024,
  // Slowloris guard: a proxy sends a subrequest's headers at once.
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  // Proxies pool upstream connections (nginx keepalive_timeout 60 s, Caddy's transport 2 min idle). Keep ours longer
  // so the proxy, not us, closes an idle connection: otherwise a request can race our close and fail.
  // HTTP keep-alive is node's default; this also turns on TCP keep-alive so dead peers are noticed.
  keepAliveTimeout: 125_000,
  keepAlive: true,
});
