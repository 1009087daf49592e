/** What the single-use e2e tests ask a running Portcullis: forward auth on a single-use route, and /readyz. */
import type { TestPortcullis } from '../support/portcullis.ts';

export const ask = (p: TestPortcullis, token: string, uri = '/payments/1') =>
  fetch(`${p.httpUrl}/auth`, { headers: { 'x-forwarded-method': 'POST', 'x-forwarded-uri': uri, authorization: `Bearer ${token}` } });

/** The status and the reason code of one forward-auth answer. */
export async function answer(p: TestPortcullis, token: string, uri?: string): Promise<{ status: number; reason: string | undefined }> {
  const res = await ask(p, token, uri);
  const text = await res.text();
  return { status: res.status, reason: text ? (JSON.parse(text) as { reason?: string }).reason : undefined };
}

export const readyz = async (p: TestPortcullis) => {
  const res = await fetch(`${p.httpUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

export async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The single-use route and the `replay` section with a Redis target (`{ url }`, `{ sentinel }` or `{ cluster }`). */
export function singleUseConfig(redis: Record<string, unknown>, opts: { onStoreError?: 'deny' | 'allow'; timeout?: string; prefix?: string } = {}) {
  return {
    replay: { store: 'redis', redis: { ...redis, key_prefix: opts.prefix ?? 'e2e:jti:', timeout: opts.timeout ?? '5s' }, on_store_error: opts.onStoreError ?? 'deny' },
    routes: [{ name: 'payments', match: { paths: ['/payments/**'] }, require: { single_use: true } }],
  };
}
