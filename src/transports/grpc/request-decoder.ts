/**
 * A CheckRequest decoder that builds only what toAuthRequest (ext-authz.ts) reads, straight from the bytes, for
 * the messages Envoy sends. It gives the shape protobufjs gives (protos.ts, LOADER_OPTIONS), so the one
 * translation, toAuthRequest, serves both; only the `headers` map comes as `header_list` pairs (wire.ts), and string
 * fields toAuthRequest never reads are skipped, not decoded (decoding a string cannot fail, so nothing changes).
 *
 * It decodes a message only when it can do so exactly as protobufjs would; on anything else it answers undefined
 * and the caller decodes with protobufjs. That covers every field with a wire type other than its declared one
 * (protobufjs reads by the declared type), varints longer than their type allows, lengths past the end (protobufjs
 * clamps some, throws on others), groups and invalid wire types, a map key "__proto__" (protobufjs drops it), and
 * a non-empty metadata_context / route_metadata_context / tls_session (not read, so not decoded here).
 * test/transports/grpc/request-decoder.test.ts proves the agreement on real shapes and on mutated messages.
 */
import type { WireCheckRequest, WireHeaderValue, WireHttpRequest, WirePeer } from './wire.ts';

/** Thrown to give up: the caller decodes with protobufjs instead. */
class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported('not decoded here');

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;
const FIXED32 = 5;

/** Buffer's own decoders (node:buffer), which Buffer#toString calls; not in @types/node. */
interface Slices {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

/**
 * Strings up to this many bytes that are ASCII are cut from one latin1 copy of the whole message: a message has ~30
 * short strings (header names and values), and a decoder call costs ~60 ns each where a JS check and a slice cost
 * ~15 ns. A cut of 13 chars or more refers to that copy, so longer strings (the token, which the cache keeps) are
 * decoded on their own: nothing kept beyond the request holds the copy alive.
 */
const SHORT = 64;

class Cursor {
  pos = 0;
  /** The value of the map entry readEntry read last. */
  entryValue = '';
  /** While set, strings are checked and skipped, not decoded (a peer that is read only to be checked: destination). */
  quiet = false;
  readonly buf: Buffer;
  /** The message as latin1, one char per byte (so byte offsets are char offsets), made for the first short string. */
  #latin1: string | undefined;
  constructor(buf: Buffer) {
    this.buf = buf;
  }

  /** protobufjs' Reader.uint32 for varints of at most 5 bytes (the 5th contributes its low 4 bits). */
  uint32(end: number): number {
    const buf = this.buf;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= end) throw UNSUPPORTED;
      const byte = buf[this.pos++]!;
      value = (value | ((shift === 28 ? byte & 15 : byte & 127) << shift)) >>> 0;
      if (byte < 128) return value;
    }
    throw UNSUPPORTED;
  }

  /** An int64 varint (at most 10 bytes), value unused. */
  skipVarint(end: number): void {
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw UNSUPPORTED;
      if (this.buf[this.pos++]! < 128) return;
    }
    throw UNSUPPORTED;
  }

  /** The end of a length-delimited field that starts here. */
  length(end: number): number {
    const length = this.uint32(end);
    const stop = this.pos + length;
    if (stop > end) throw UNSUPPORTED;
    return stop;
  }

  /**
   * What protobufjs' BufferReader.string gives: the bytes decoded by Buffer's utf8Slice, called directly as
   * protobufjs does (Buffer#toString's argument handling showed as 3.5 % of a cached Check); a short ASCII string is
   * the same text cut from the message's latin1 copy (SHORT).
   */
  string(end: number): string {
    const stop = this.length(end);
    if (this.quiet) {
      this.pos = stop;
      return '';
    }
    const start = this.pos;
    this.pos = stop;
    const buf = this.buf as Buffer & Slices;
    if (stop - start <= SHORT) {
      // ASCII decodes to the same text as UTF-8 and as latin1.
      let ascii = true;
      for (let i = start; i < stop && ascii; i++) ascii = buf[i]! < 0x80;
      if (ascii) return (this.#latin1 ??= buf.latin1Slice(0, buf.length)).slice(start, stop);
    }
    return buf.utf8Slice(start, stop);
  }

  bytes(end: number): Buffer {
    const stop = this.length(end);
    const bytes = this.buf.subarray(this.pos, stop);
    this.pos = stop;
    return bytes;
  }

  /** The next tag, with the field's wire type checked against `wanted` by the caller through `want`. */
  tag(end: number): number {
    return this.uint32(end);
  }

  /** An unknown field, skipped as protobufjs' skipType does (groups excepted). */
  skip(wireType: number, end: number): void {
    if (wireType === VARINT) {
      // protobufjs skips any number of continuation bytes here.
      do if (this.pos >= end) throw UNSUPPORTED; while (this.buf[this.pos++]! & 128);
    } else if (wireType === LENGTH) this.pos = this.length(end);
    else if (wireType === FIXED64 || wireType === FIXED32) {
      this.pos += wireType === FIXED64 ? 8 : 4;
      if (this.pos > end) throw UNSUPPORTED;
    } else throw UNSUPPORTED;
  }

  /** A message field must end exactly at its length. */
  done(end: number): void {
    if (this.pos !== end) throw UNSUPPORTED;
  }
}

/** The declared wire type, or give up: protobufjs would read the field by its declared type regardless. */
function want(tag: number, wireType: number): void {
  if ((tag & 7) !== wireType) throw UNSUPPORTED;
}

/** One map<string, string> entry: its key is returned and its value left in `c.entryValue` (no pair allocated). */
function readEntry(c: Cursor, end: number): string {
  const stop = c.length(end);
  let key = '';
  c.entryValue = '';
  while (c.pos < stop) {
    const tag = c.tag(stop);
    const number = tag >>> 3;
    if (number === 1) (want(tag, LENGTH), (key = c.string(stop)));
    else if (number === 2) (want(tag, LENGTH), (c.entryValue = c.string(stop)));
    else c.skip(tag & 7, stop);
  }
  c.done(stop);
  return key;
}

/** map<string, string>: one entry into a plain object, as protobufjs builds them (a later value of a key wins). */
function mapEntry(c: Cursor, end: number, into: Record<string, string>): void {
  const key = readEntry(c, end);
  if (key === '__proto__') throw UNSUPPORTED;
  into[key] = c.entryValue;
}

/**
 * One entry of the `headers` map into `list` (flat name, value pairs in wire order): what protobufjs' object gives,
 * without the object. A later value of a name replaces the earlier one in its place, as an object property would.
 * A name an object would order differently (an integer-like one comes first) or drop ("__proto__") is left to protobufjs.
 */
function headerEntry(c: Cursor, end: number, list: string[]): void {
  const key = readEntry(c, end);
  const first = key.charCodeAt(0);
  if (key === '__proto__' || (first >= 48 && first <= 57)) throw UNSUPPORTED;
  for (let i = 0; i < list.length; i += 2) {
    // The length first: a string comparison is a builtin call unless the lengths differ, and this loop runs for every
    // earlier name (78 comparisons for Envoy's 13 headers).
    if (list[i]!.length === key.length && list[i] === key) {
      list[i + 1] = c.entryValue;
      return;
    }
  }
  list.push(key, c.entryValue);
}

interface SocketAddress { address?: string; port_value?: number; named_port?: string }
interface Address { socket_address?: SocketAddress; pipe?: { path?: string } }

function socketAddress(c: Cursor, end: number): SocketAddress {
  const out: SocketAddress = {};
  while (c.pos < end) {
    const tag = c.tag(end);
    switch (tag >>> 3) {
      case 2: want(tag, LENGTH); out.address = c.string(end); break;
      case 3: want(tag, VARINT); out.port_value = c.uint32(end); break;
      case 4: want(tag, LENGTH); out.named_port = c.string(end); break;
      case 5: want(tag, LENGTH); c.skip(LENGTH, end); break; // resolver_name: not read
      case 1: case 6: want(tag, VARINT); c.uint32(end); break; // protocol (enum), ipv4_compat (bool): protobufjs reads both with uint32
      default: c.skip(tag & 7, end);
    }
  }
  c.done(end);
  return out;
}

function pipe(c: Cursor, end: number): { path?: string } {
  const out: { path?: string } = {};
  while (c.pos < end) {
    const tag = c.tag(end);
    switch (tag >>> 3) {
      case 1: want(tag, LENGTH); out.path = c.string(end); break;
      case 2: want(tag, VARINT); c.uint32(end); break; // mode
      default: c.skip(tag & 7, end);
    }
  }
  c.done(end);
  return out;
}

function address(c: Cursor, end: number): Address {
  const out: Address = {};
  while (c.pos < end) {
    const tag = c.tag(end);
    switch (tag >>> 3) {
      case 1: want(tag, LENGTH); out.socket_address = socketAddress(c, c.length(end)); break;
      case 2: want(tag, LENGTH); out.pipe = pipe(c, c.length(end)); break;
      default: c.skip(tag & 7, end);
    }
  }
  c.done(end);
  return out;
}

function peer(c: Cursor, end: number): WirePeer {
  let at: Address | undefined;
  let certificate = '';
  const labels: Record<string, string> = {};
  while (c.pos < end) {
    const tag = c.tag(end);
    switch (tag >>> 3) {
      case 1: want(tag, LENGTH); at = address(c, c.length(end)); break; // a repeated message field replaces the earlier one, as in protobufjs
      case 3: want(tag, LENGTH); mapEntry(c, end, labels); break;
      case 5: want(tag, LENGTH); certificate = c.string(end); break;
      case 2: case 4: want(tag, LENGTH); c.skip(LENGTH, end); break; // service, principal: not read
      default: c.skip(tag & 7, end);
    }
  }
  c.done(end);
  const out: { address?: Address; certificate?: string } = {};
  if (at !== undefined) out.address = at;
  if (certificate !== '') out.certificate = certificate;
  return out;
}

function headerValue(c: Cursor, end: number): WireHeaderValue {
  // protobufjs (defaults: true) gives absent strings as '': an entry without a key is a header named ''.
  const out: { key: string; value: string; raw_value?: Buffer } = { key: '', value: '' };
  while (c.pos < end) {
    const tag = c.tag(end);
    switch (tag >>> 3) {
      case 1: want(tag, LENGTH); out.key = c.string(end); break;
      case 2: want(tag, LENGTH); out.value = c.string(end); break;
      case 3: want(tag, LENGTH); out.raw_value = c.bytes(end); break;
      default: c.skip(tag & 7, end);
    }
  }
  c.done(end);
  return out;
}

function headerMap(c: Cursor, end: number): { headers: WireHeaderValue[] } {
  const headers: WireHeaderValue[] = [];
  while (c.pos < end) {
    const tag = c.tag(end);
    if (tag >>> 3 === 1) (want(tag, LENGTH), headers.push(headerValue(c, c.length(end))));
    else c.skip(tag & 7, end);
  }
  c.done(end);
  return { headers };
}

function httpRequest(c: Cursor, end: number): WireHttpRequest {
  const out: { method?: string; header_list?: string[]; header_map?: { headers: WireHeaderValue[] }; path?: string; host?: string; scheme?: string } = {};
  while (c.pos < end) {
    const tag = c.tag(end);
    switch (tag >>> 3) {
      case 2: want(tag, LENGTH); out.method = c.string(end); break;
      case 3: want(tag, LENGTH); headerEntry(c, end, (out.header_list ??= [])); break;
      case 4: want(tag, LENGTH); out.path = c.string(end); break;
      case 5: want(tag, LENGTH); out.host = c.string(end); break;
      case 6: want(tag, LENGTH); out.scheme = c.string(end); break;
      case 13: want(tag, LENGTH); out.header_map = headerMap(c, c.length(end)); break;
      case 1: case 7: case 8: case 10: want(tag, LENGTH); c.skip(LENGTH, end); break; // id, query, fragment, protocol: not read
      case 9: want(tag, VARINT); c.skipVarint(end); break; // size (int64)
      default: c.skip(tag & 7, end);
    }
  }
  c.done(end);
  return out;
}

/** google.protobuf.Timestamp (int64 seconds = 1, int32 nanos = 2): checked, not kept. */
function timestamp(c: Cursor, end: number): void {
  while (c.pos < end) {
    const tag = c.tag(end);
    switch (tag >>> 3) {
      case 1: want(tag, VARINT); c.skipVarint(end); break;
      case 2: want(tag, VARINT); c.uint32(end); break;
      default: c.skip(tag & 7, end);
    }
  }
  c.done(end);
}

function request(c: Cursor, end: number): { http?: WireHttpRequest } {
  let http: WireHttpRequest | undefined;
  while (c.pos < end) {
    const tag = c.tag(end);
    switch (tag >>> 3) {
      case 2: want(tag, LENGTH); http = httpRequest(c, c.length(end)); break;
      case 1: want(tag, LENGTH); timestamp(c, c.length(end)); break;
      default: c.skip(tag & 7, end);
    }
  }
  c.done(end);
  return http === undefined ? {} : { http };
}

function attributes(c: Cursor, end: number): NonNullable<WireCheckRequest['attributes']> {
  const out: { source?: WirePeer; request?: { http?: WireHttpRequest }; context_extensions?: Record<string, string> } = {};
  while (c.pos < end) {
    const tag = c.tag(end);
    switch (tag >>> 3) {
      case 1: want(tag, LENGTH); out.source = peer(c, c.length(end)); break;
      case 2: // destination: checked, not kept
        want(tag, LENGTH);
        c.quiet = true;
        peer(c, c.length(end));
        c.quiet = false;
        break;
      case 4: want(tag, LENGTH); out.request = request(c, c.length(end)); break;
      case 10: want(tag, LENGTH); mapEntry(c, end, (out.context_extensions ??= {})); break;
      case 11: case 12: case 13: // metadata_context, tls_session, route_metadata_context: only when empty
        want(tag, LENGTH);
        if (c.length(end) !== c.pos) throw UNSUPPORTED;
        break;
      default: c.skip(tag & 7, end);
    }
  }
  c.done(end);
  return out;
}

/** The CheckRequest as toAuthRequest reads it, or undefined when it must be decoded with protobufjs. */
export function decodeCheckRequestFast(bytes: Buffer): WireCheckRequest | undefined {
  const c = new Cursor(bytes);
  const end = bytes.length;
  try {
    let attrs: WireCheckRequest['attributes'];
    while (c.pos < end) {
      const tag = c.tag(end);
      if (tag >>> 3 === 1) (want(tag, LENGTH), (attrs = attributes(c, c.length(end))));
      else c.skip(tag & 7, end);
    }
    return attrs === undefined ? {} : { attributes: attrs };
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}
