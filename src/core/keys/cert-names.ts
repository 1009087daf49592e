/**
 * Names of a certificate in plain text, for `explain`, the /keys view and the optional identity headers: the
 * subject as an RFC 4514 string (`CN=leaf,O=Example`, most specific first, like Go's pkix.Name.String()) and the
 * subject alternative names as `DNS:…`, `URI:…`, `email:…`, `IP:…`. Read from PKI.js's parsed certificate.
 */
import type * as pkijs from 'pkijs';

const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.9': 'STREET', '2.5.4.10': 'O', '2.5.4.11': 'OU',
  '2.5.4.5': 'SERIALNUMBER', '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID', '1.2.840.113549.1.9.1': 'emailAddress',
};

/** RFC 4514 2.4: escape the special characters; anything that is not a plain string shows as `#<hex>`. */
function escapeValue(value: unknown): string {
  const block = (value as { valueBlock?: { value?: unknown; valueHexView?: Uint8Array } }).valueBlock;
  if (typeof block?.value !== 'string') return `#${Buffer.from(block?.valueHexView ?? new Uint8Array()).toString('hex')}`;
  return block.value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`).replace(/^[ #]/, (c) => `\\${c}`).replace(/ $/, '\\ ');
}

export function subjectName(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((tv) => `${SHORT_NAMES[tv.type] ?? tv.type}=${escapeValue(tv.value)}`)
    .reverse()
    .join(',');
}

function ipText(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) return Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(':');
  return `#${Buffer.from(bytes).toString('hex')}`;
}

/** Subject alternative names of the kinds a workload identity uses; other kinds are left out. */
export function subjectAltNames(cert: pkijs.Certificate): string[] {
  const ext = cert.extensions?.find((e) => e.extnID === '2.5.29.17');
  const names = (ext?.parsedValue as pkijs.AltName | undefined)?.altNames ?? [];
  const out: string[] = [];
  for (const n of names) {
    if (n.type === 1 && typeof n.value === 'string') out.push(`email:${n.value}`);
    else if (n.type === 2 && typeof n.value === 'string') out.push(`DNS:${n.value}`);
    else if (n.type === 6 && typeof n.value === 'string') out.push(`URI:${n.value}`);
    else if (n.type === 7) out.push(`IP:${ipText(new Uint8Array((n.value as { valueBlock: { valueHexView: Uint8Array } }).valueBlock.valueHexView))}`);
  }
  return out;
}
