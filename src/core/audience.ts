/**
 * Does a token's `aud` value name one of the issuer's audiences? Exact match for every issuer. An x5c issuer also
 * matches the way Smallstep's CA matches its provisioner audiences (authority/provisioner: `WithFragment`,
 * `matchesAudience`, `stripPort`), so a step CLI token works unchanged: each configured URL audience also stands for
 * itself with the fragment `#x5c/<issuer>` (the step CLI appends `#` + the provisioner id), and both sides are
 * compared with their port removed (the CA "might have proxies in front so we cannot rely on the port").
 */
import type { IssuerConfig } from './config.ts';

/** The URL without its port (and WHATWG-normalized); anything that is not a URL stays as it is. */
export function stripPort(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return value;
  }
  u.port = '';
  return u.href;
}

const smallstepForms = new WeakMap<IssuerConfig, ReadonlySet<string>>();

function expectedForms(issuer: IssuerConfig): ReadonlySet<string> {
  let forms = smallstepForms.get(issuer);
  if (!forms) {
    const set = new Set<string>();
    for (const a of issuer.audiences) {
      set.add(stripPort(a));
      let u: URL;
      try {
        u = new URL(a);
      } catch {
        continue;
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') continue;
      u.hash = `x5c/${issuer.issuer}`;
      set.add(stripPort(u.href));
    }
    smallstepForms.set(issuer, (forms = set));
  }
  return forms;
}

export function audienceMatches(received: string, issuer: IssuerConfig): boolean {
  if (issuer.audiences.includes(received)) return true;
  return issuer.x5c !== undefined && expectedForms(issuer).has(stripPort(received));
}
