/**
 * Envoy ext_authz in HTTP mode (`http_service`), served on the HTTP listener under `envoy_http.path_prefix`.
 *
 * What Envoy sends (checked against envoyproxy/envoy source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc,
 * RawHttpClientImpl::check / toResponse, and the ext_authz filter docs):
 *   - the ORIGINAL method, and `:path` = path_prefix + the original path (raw, query included);
 *   - `:authority` (Host) = the original authority;
 *   - only Authorization, Method, Path and Host, plus what `authorization_request.allowed_headers` adds (Cookie for
 *     cookie tokens, Accept for login redirects, X-Forwarded-Proto for the return URL's scheme, traceparent, …);
 *     repeated headers arrive comma-merged; Content-Length 0 unless `with_request_body` is set.
 * What Envoy does with the answer:
 *   - ONLY 200 allows. Response headers named in `authorization_response.allowed_upstream_headers` overwrite the
 *     upstream request's headers; `x-envoy-auth-headers-to-remove` (comma-separated names, 200 only) removes request
 *     headers before the upstream sees them.
 *   - 5xx is an error, not a deny: the client gets `status_on_error` (default 403) and our body is dropped.
 *   - Any other status denies: status, body, and the headers `allowed_client_headers` lists (when that list is set,
 *     Envoy always adds WWW-Authenticate and Location to it; when empty, every header but Host goes to the client).
 *
 * The trust rule here is simpler than forward auth's: the method, path and host are our own request line and Host,
 * which Envoy builds from what it parsed; no forwarding header says what is being authorized. A client cannot set
 * them, because the client never talks to this prefix through Envoy (keep the HTTP listener off public networks).
 *
 * The client certificate comes from `client_certificate.header` only (never without that section). With Envoy that is
 * x-forwarded-client-cert, which the connection manager writes from its own TLS state before any filter runs
 * (forward_client_cert_details: SANITIZE_SET replaces a client's copy; set_current_client_cert_details: cert: true),
 * listed in allowed_headers; see docs/certificate-bound.md.
 *
 * How an allow names identity headers and the token's headers for Envoy is the `envoy_http` mode of render.ts.
 */
import type { IncomingMessage } from 'node:http';
import type { AuthRequest } from '../../core/types.ts';
import { fromWire } from '../../core/text.ts';
import { certificateFromHeader } from '../../core/client-certificate.ts';
import { clientAddressOf, headerMap, single } from './headers.ts';

const NO_EXTENSIONS: ReadonlyMap<string, string> = new Map();

/**
 * The original request target of a request under `pathPrefix`, or `undefined` when the request is not under it.
 * Envoy appends the original `:path` (which starts with "/", or is "*") to the prefix; the rest is kept raw.
 */
export function envoyOriginalPath(url: string, pathPrefix: string): string | undefined {
  if (!url.startsWith(pathPrefix)) return undefined;
  const rest = url.slice(pathPrefix.length);
  return rest.startsWith('/') || rest === '*' ? rest : undefined;
}

/** The AuthRequest an Envoy HTTP-mode authorization request describes (the server routes only such requests here). */
export function toEnvoyAuthRequest(req: IncomingMessage, pathPrefix: string, certificateHeader?: string): AuthRequest {
  const path = envoyOriginalPath(req.url ?? '', pathPrefix);
  const headers = headerMap(req);
  // Envoy sanitizes X-Forwarded-Proto (set from the downstream connection unless the downstream is trusted);
  // it only reaches us when allowed_headers lists it, and decides http vs https in a login return URL and a DPoP htu.
  const proto = single(headers, 'x-forwarded-proto')?.trim().toLowerCase();
  const clientAddress = clientAddressOf(req, headers);
  const clientCertificate = certificateHeader === undefined ? undefined : certificateFromHeader(headers, certificateHeader);
  return {
    transport: 'envoy_http',
    method: (req.method ?? '').toUpperCase(),
    host: fromWire(single(headers, 'host')?.trim() ?? ''),
    scheme: proto === 'http' || proto === 'https' ? proto : '',
    path: fromWire(path ?? ''),
    headers,
    contextExtensions: NO_EXTENSIONS,
    ...(clientAddress !== undefined ? { clientAddress } : {}),
    ...(clientCertificate !== undefined ? { clientCertificate } : {}),
    endpoint: pathPrefix,
  };
}
