/**
 * Pure translation between Envoy's ext_authz messages and the core contract:
 * CheckRequest → AuthRequest and Decision → CheckResponse. No I/O, no Authorizer calls.
 */
import { isUtf8 } from 'node:buffer';
import type { Allow, AuthRequest, AuthRequestDraft, Decision, Deny, IdentityHeader } from '../../core/types.ts';
import { internalErrorDeny } from '../../core/deny.ts';
import { certificateFrom, certificateFromHeader, XFCC } from '../../core/client-certificate.ts';
import { toStruct, wellFormed } from './struct.ts';
import { RawHeaderMap } from '../raw-header-map.ts';
import type {
  Struct,
  WireCheckRequest,
  WireCheckResponse,
  WireHeaderValue,
  WireHeaderValueOption,
  WirePeer,
} from './wire.ts';

/** google.rpc.Code values used in CheckResponse.status. */
export const RpcCode = { ok: 0, invalidArgument: 3, permissionDenied: 7, resourceExhausted: 8, unavailable: 14, unauthenticated: 16 } as const;

const DENY_RPC_CODE: Readonly<Record<Deny['status'], number>> = {
  302: RpcCode.unauthenticated,
  400: RpcCode.invalidArgument,
  401: RpcCode.unauthenticated,
  403: RpcCode.permissionDenied,
  413: RpcCode.resourceExhausted,
  503: RpcCode.unavailable,
};

const NO_HEADERS: ReadonlyMap<string, readonly string[]> = new Map();
const NO_EXTENSIONS: ReadonlyMap<string, string> = new Map();

// ---------------------------------------------------------------- CheckRequest → AuthRequest

/**
 * Never throws for any decoded input, including `{}` or `null`: a request with nothing in it becomes an AuthRequest
 * with empty fields, and the Authorizer denies it.
 *
 * The client certificate (the one place gRPC fills it): `source.certificate`, Envoy's own TLS state of the
 * downstream connection, which no client can write. With `xfcc` (client_certificate.xfcc: true) the
 * x-forwarded-client-cert header wins when it is present: the operator says an Envoy in front terminated the
 * client's TLS and wrote it (forward_client_cert_details: SANITIZE_SET, which replaces any client copy), and
 * source.certificate is then that Envoy's mesh certificate, not the client's. Without `xfcc` the header is never
 * read: a client could have sent it.
 */
export function toAuthRequest(message: unknown, xfcc = false): AuthRequest {
  const attributes = isObject(message) ? (message as WireCheckRequest).attributes : undefined;
  const http = attributes?.request?.http;
  const pseudo: Pseudo = {};
  const raw: string[] = [];

  // Default mode: one map entry per header name, repeats already comma-joined by Envoy. The fast decoder
  // (request-decoder.ts) gives the map as a list of pairs; protobufjs as an object.
  const list = http?.header_list;
  if (Array.isArray(list)) {
    for (let i = 0; i + 1 < list.length; i += 2) addHeader(raw, pseudo, list[i]!, list[i + 1]!);
  } else if (isRecord(http?.headers)) {
    for (const [name, value] of Object.entries(http.headers)) {
      if (typeof value === 'string') addHeader(raw, pseudo, name, value);
    }
  }
  // encode_raw_headers: true: one entry per header line, repeats kept apart, values as bytes.
  const entries = http?.header_map?.headers;
  if (Array.isArray(entries)) {
    for (const entry of entries as readonly unknown[]) {
      if (!isObject(entry)) continue;
      const { key } = entry as WireHeaderValue;
      if (typeof key === 'string') addHeader(raw, pseudo, key, headerText(entry as WireHeaderValue));
    }
  }

  const headers = raw.length > 0 ? new RawHeaderMap(raw) : NO_HEADERS;
  const clientAddress = peerAddress(attributes?.source);
  const peerCertificate = text(attributes?.source?.certificate);
  const clientCertificate = (xfcc ? certificateFromHeader(headers, XFCC) : undefined)
    ?? (peerCertificate === '' ? undefined : certificateFrom('envoy', [peerCertificate]));
  // Built field by field: optional fields are absent (not undefined) when there is nothing to say.
  const request: AuthRequestDraft = {
    transport: 'grpc',
    method: (text(http?.method) || pseudo.method || '').toUpperCase(),
    host: text(http?.host) || pseudo.authority || pseudo.host || '',
    scheme: text(http?.scheme) || pseudo.scheme || '',
    path: text(http?.path) || pseudo.path || '',
    headers,
    contextExtensions: stringMap(attributes?.context_extensions),
  };
  if (clientAddress !== undefined) request.clientAddress = clientAddress;
  if (clientCertificate !== undefined) request.clientCertificate = clientCertificate;
  return request;
}

/** The pseudo-headers read as fallbacks for the request line (and host), the first value of each. */
interface Pseudo { method?: string; authority?: string; scheme?: string; path?: string; host?: string }

/**
 * Pseudo-headers go to `pseudo` only (first value wins, the rest are dropped); every other header goes to `raw` with
 * its name lower-cased, in order (host also to `pseudo`, for the fallback).
 */
function addHeader(raw: string[], pseudo: Pseudo, rawName: string, value: string): void {
  const name = rawName.toLowerCase();
  if (name.charCodeAt(0) === 0x3a) {
    if (name === ':method') pseudo.method ??= value;
    else if (name === ':authority') pseudo.authority ??= value;
    else if (name === ':scheme') pseudo.scheme ??= value;
    else if (name === ':path') pseudo.path ??= value;
    return;
  }
  if (name === 'host') pseudo.host ??= value;
  raw.push(name, value);
}

/**
 * raw_value carries the header's bytes exactly. Valid UTF-8 decodes as UTF-8, the same text the default mode's
 * string map would give; anything else decodes as latin1, byte for byte, as Node's HTTP parser does.
 */
function headerText(entry: WireHeaderValue): string {
  const raw = entry.raw_value;
  if (raw instanceof Uint8Array && raw.length > 0) {
    const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
    return bytes.toString(isUtf8(bytes) ? 'utf8' : 'latin1');
  }
  return text(entry.value);
}

/** "ip:port", "[ipv6]:port", or a unix socket path; undefined when Envoy sent no usable address. */
function peerAddress(peer: WirePeer | null | undefined): string | undefined {
  const address = peer?.address;
  const socket = address?.socket_address;
  const ip = text(socket?.address);
  if (ip !== '') {
    const host = ip.includes(':') ? `[${ip}]` : ip;
    const port = typeof socket?.port_value === 'number' && socket.port_value > 0 ? String(socket.port_value) : text(socket?.named_port);
    return port === '' ? host : `${host}:${port}`;
  }
  const pipe = text(address?.pipe?.path);
  return pipe === '' ? undefined : pipe;
}

function stringMap(value: unknown): ReadonlyMap<string, string> {
  if (!isRecord(value)) return NO_EXTENSIONS;
  // Own enumerable string keys in Object.entries' order, without its arrays (Object.entries on a decoded map was
  // 6 % of a cached Check in bench/hotpath-grpc.ts --cpu-prof).
  let map: Map<string, string> | undefined;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = value[key];
    if (typeof item === 'string') (map ??= new Map()).set(key, item);
  }
  return map ?? NO_EXTENSIONS;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A decoded protobuf map: a plain object, never an array. */
function isRecord(value: unknown): value is Record<string, unknown> {
  return isObject(value) && !Array.isArray(value);
}

// ---------------------------------------------------------------- Decision → CheckResponse

/**
 * Allow: status OK; each identity header with a value is set (overwriting whatever the client sent), each without
 * one is removed; verified claims and issuer go to dynamic metadata for later filters and access logs.
 * Deny: the matching gRPC code inside a successful RPC, plus the HTTP status, headers and body the client gets.
 */
export function toCheckResponse(decision: Decision): WireCheckResponse {
  if (decision.kind === 'allow') {
    // Only a shared answer's translations are worth keeping (core/types.ts Allow.shared).
    const shared = decision.shared === true;
    const metadata = allowMetadata(decision.claims, decision.issuer, shared);
    if (decision.stripHeaders === undefined && decision.setHeaders === undefined && decision.responseHeaders === undefined && shared) {
      return plainAllow(okForIdentity(decision.identity), metadata);
    }
    return allowResponse(okResponse(decision), metadata);
  }
  return {
    status: { code: DENY_RPC_CODE[decision.status] ?? RpcCode.unavailable, message: wellFormed(decision.reason) },
    denied_response: {
      status: { code: decision.status },
      headers: headerOptions(decision.headers),
      body: wellFormed(decision.body),
    },
  };
}

type OkResponse = NonNullable<WireCheckResponse['ok_response']>;

const ALLOW_STATUS = Object.freeze({ code: RpcCode.ok, message: '' });

function allowResponse(ok: OkResponse, metadata: Struct | undefined): WireCheckResponse {
  return { status: ALLOW_STATUS, ok_response: ok, ...(metadata !== undefined ? { dynamic_metadata: metadata } : {}) };
}

/**
 * A cached token's plain allow (identity headers only) is one frozen response per identity array and claims
 * Struct, both stable per cached token: frozen, so that check-service.ts may keep its encoded bytes too.
 */
const plainAllowCache = new WeakMap<OkResponse, WeakMap<object, WireCheckResponse>>();
const NO_METADATA = {};

function plainAllow(ok: OkResponse, metadata: Struct | undefined): WireCheckResponse {
  let byMetadata = plainAllowCache.get(ok);
  if (byMetadata === undefined) plainAllowCache.set(ok, (byMetadata = new WeakMap()));
  let response = byMetadata.get(metadata ?? NO_METADATA);
  if (response === undefined) {
    response = Object.freeze(allowResponse(ok, metadata));
    byMetadata.set(metadata ?? NO_METADATA, response);
  }
  return response;
}

/** Identity arrays of cached tokens are frozen and shared per token and rule (see the authorizer), so their translation is too. */
const okCache = new WeakMap<readonly IdentityHeader[], OkResponse>();

function okForIdentity(identity: readonly IdentityHeader[]): OkResponse {
  let ok = okCache.get(identity);
  if (ok === undefined) {
    ok = okResponse({ identity });
    okCache.set(identity, ok);
  }
  return ok;
}

function okResponse(decision: Pick<Allow, 'identity' | 'stripHeaders' | 'setHeaders' | 'responseHeaders'>): OkResponse {
  const set = decision.identity.filter((header): header is IdentityHeader & { value: string } => header.value !== undefined);
  const setNames = new Set(set.map((header) => header.name.toLowerCase()));
  // Envoy applies removals after additions, so a name that is also set must not be removed.
  const remove = decision.identity
    .filter((header) => header.value === undefined && !setNames.has(header.name.toLowerCase()))
    .map((header) => wellFormed(header.name.toLowerCase()));
  return {
    headers: headerOptions([...set.map((header) => [header.name, header.value] as const), ...(decision.setHeaders ?? [])]),
    headers_to_remove: [...remove, ...(decision.stripHeaders ?? []).map(wellFormed)],
    // Every value is appended: two Set-Cookie lines are two cookies, never one overwriting the other.
    ...(decision.responseHeaders?.length
      ? { response_headers_to_add: decision.responseHeaders.map(([name, value]) => ({ header: { key: wellFormed(name.toLowerCase()), value: wellFormed(value) }, append: { value: true } })) }
      : {}),
  };
}

/**
 * The answer when translation or the Authorizer fails: still a deny (never a gRPC error, which failure_mode_allow
 * could turn into an allow), built by the core's one deny builder. A gRPC deny carries no identity headers.
 */
const INTERNAL_ERROR = toCheckResponse(internalErrorDeny({ realm: '', cleared: [] }));

export function internalErrorResponse(): WireCheckResponse {
  return INTERNAL_ERROR;
}

/**
 * append: {value: false} overwrites. It is deprecated in favour of append_action, but it is the field every Envoy
 * release reads for ext_authz responses (older ones read nothing else and treat a missing value as overwrite), and
 * current Envoy gives it precedence over append_action, whose default is APPEND_IF_EXISTS_OR_ADD. Setting both is
 * rejected by Envoy's own header parser, so append_action stays unset.
 * A name that repeats is set by its first occurrence and appended by the rest, so no value is lost.
 */
function headerOptions(headers: readonly (readonly [string, string])[]): WireHeaderValueOption[] {
  const seen = new Set<string>();
  return headers.map(([name, value]) => {
    const key = name.toLowerCase();
    const append = seen.has(key);
    seen.add(key);
    return { header: { key: wellFormed(key), value: wellFormed(value) }, append: { value: append } };
  });
}

/** The verified claims object of a cached token is kept stable by the token cache, so its Struct is built once per token. */
const metadataCache = new WeakMap<object, Struct>();

function allowMetadata(claims: Readonly<Record<string, unknown>> | undefined, issuer: string | undefined, shared: boolean): Struct | undefined {
  if (claims === undefined) return undefined;
  let struct = shared ? metadataCache.get(claims) : undefined;
  if (struct === undefined) {
    struct = toStruct(issuer === undefined ? { claims } : { claims, issuer });
    if (shared) metadataCache.set(claims, struct);
  }
  return struct;
}
