/**
 * JS value → google.protobuf.Struct in the object shape proto-loader encodes, with JSON.stringify's semantics
 * (undefined/functions/symbols dropped from objects and nulled in arrays, non-finite numbers null, toJSON honoured).
 */
import type { Struct, StructValue } from './wire.ts';

/**
 * JSON nesting kept as Struct before the rest is sent as a JSON string. Every JSON level costs Envoy's parser about
 * three message levels (Value → Struct → map entry) and protobuf C++ refuses to parse past 100, so a deeper Struct
 * would make the whole CheckResponse unparsable: Envoy would treat the check as failed, and with
 * failure_mode_allow that is an allow.
 */
export const MAX_STRUCT_DEPTH = 20;

const NULL: StructValue = Object.freeze({ nullValue: 'NULL_VALUE' });

/** Protobuf strings must be UTF-8; a lone surrogate would also make Envoy reject the whole response. */
export function wellFormed(text: string): string {
  return text.isWellFormed() ? text : text.toWellFormed();
}

export function toStruct(object: Readonly<Record<string, unknown>>, depth = 0): Struct {
  const fields: Record<string, StructValue> = {};
  for (const [key, raw] of Object.entries(object)) {
    const value = toValue(raw, depth + 1);
    if (value !== undefined) fields[wellFormed(key)] = value;
  }
  return { fields };
}

/** undefined = leave out (as JSON.stringify does for object members). */
function toValue(raw: unknown, depth: number): StructValue | undefined {
  let value = raw;
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      return { stringValue: wellFormed(value) };
    case 'number':
      return Number.isFinite(value) ? { numberValue: value } : NULL;
    case 'boolean':
      return { boolValue: value };
    case 'bigint':
      // JSON has no bigint; a string keeps every digit.
      return { stringValue: value.toString() };
    case 'object':
      if (value === null) return NULL;
      if (depth > MAX_STRUCT_DEPTH) return { stringValue: jsonText(value) };
      if (Array.isArray(value)) return { listValue: { values: value.map((item) => toValue(item, depth + 1) ?? NULL) } };
      return { structValue: toStruct(value as Record<string, unknown>, depth) };
    default:
      return undefined;
  }
}

function jsonText(value: object): string {
  try {
    return wellFormed(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null');
  } catch {
    return '[unserializable]';
  }
}
