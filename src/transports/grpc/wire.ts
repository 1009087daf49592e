/**
 * The JS shapes proto-loader (see LOADER_OPTIONS in protos.ts) gives and takes for the ext_authz messages.
 * Incoming shapes list only the fields we read and mark everything optional: a request is untrusted input,
 * and translation must survive any of it being absent.
 */

/** google.protobuf.Value / Struct as protobufjs' bundled definitions name their fields. */
export type StructValue =
  | { readonly nullValue: 'NULL_VALUE' }
  | { readonly numberValue: number }
  | { readonly stringValue: string }
  | { readonly boolValue: boolean }
  | { readonly structValue: Struct }
  | { readonly listValue: { readonly values: readonly StructValue[] } };

export interface Struct {
  readonly fields: Readonly<Record<string, StructValue>>;
}

// ---- incoming: envoy.service.auth.v3.CheckRequest (decoded) ----

export interface WireHeaderValue {
  readonly key?: string | null;
  readonly value?: string | null;
  readonly raw_value?: Uint8Array | null;
}

export interface WireHttpRequest {
  readonly method?: string | null;
  readonly headers?: Readonly<Record<string, string>> | null;
  /**
   * Not a wire field: the fast decoder (request-decoder.ts) gives `headers` this way instead, as name, value pairs in
   * the order an object of them would have. protobufjs never sets it.
   */
  readonly header_list?: readonly string[] | null;
  readonly header_map?: { readonly headers?: readonly (WireHeaderValue | null)[] | null } | null;
  readonly path?: string | null;
  readonly host?: string | null;
  readonly scheme?: string | null;
}

export interface WireSocketAddress {
  readonly address?: string | null;
  readonly port_value?: number | null;
  readonly named_port?: string | null;
}

export interface WirePeer {
  /** URL-encoded PEM of the peer's certificate (Envoy: include_peer_certificate: true); '' or absent without one. */
  readonly certificate?: string | null;
  readonly address?: {
    readonly socket_address?: WireSocketAddress | null;
    readonly pipe?: { readonly path?: string | null } | null;
  } | null;
}

export interface WireCheckRequest {
  readonly attributes?: {
    readonly source?: WirePeer | null;
    readonly request?: { readonly http?: WireHttpRequest | null } | null;
    readonly context_extensions?: Readonly<Record<string, string>> | null;
  } | null;
}

// ---- outgoing: envoy.service.auth.v3.CheckResponse ----

export interface WireHeaderValueOption {
  readonly header: { readonly key: string; readonly value: string };
  /**
   * Always set. Every Envoy release reads it for ext_authz headers (false = overwrite), and when it is present
   * Envoy ignores append_action, which stays at its default; see ext-authz.ts.
   */
  readonly append: { readonly value: boolean };
}

export interface WireOkHttpResponse {
  readonly headers: readonly WireHeaderValueOption[];
  readonly headers_to_remove: readonly string[];
  /** Headers Envoy adds to the response sent to the client (Set-Cookie of a silent refresh). */
  readonly response_headers_to_add?: readonly WireHeaderValueOption[];
}

export interface WireDeniedHttpResponse {
  /** envoy.type.v3.StatusCode: its numeric values are the HTTP codes; proto-loader accepts the number. */
  readonly status: { readonly code: number };
  readonly headers: readonly WireHeaderValueOption[];
  readonly body: string;
}

export interface WireCheckResponse {
  /** google.rpc.Status; code 0 allows, anything else denies. */
  readonly status: { readonly code: number; readonly message: string };
  readonly ok_response?: WireOkHttpResponse;
  readonly denied_response?: WireDeniedHttpResponse;
  readonly dynamic_metadata?: Struct;
}
