/**
 * Server nonces (RFC 9449 §8): derived from a shared secret and a time window, so replicas agree without sharing
 * state; through the core, a proof without the current nonce gets 401 use_dpop_nonce with a DPoP-Nonce header.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../../src/app.ts';
import type { Decision } from '../../../src/core/types.ts';
import { DpopNonces } from '../../../src/core/bind/nonce.ts';
import { request, startCore, testConfig } from '../../support/core.ts';
import { ISSUER, jwksOf, makeKey, NOW_S, signToken, type TestKey } from '../../support/tokens.ts';
import { dpopHeaders, jktOf, makeProof } from '../../support/dpop.ts';

const SECRET = Buffer.from('a shared nonce secret of more than 32 bytes');

describe('DpopNonces', () => {
  it('gives every replica with the same secret the same nonce, and another secret another one', () => {
    const at = () => 1_000_000;
    const a = new DpopNonces(SECRET, 60_000, at);
    const b = new DpopNonces(Buffer.from(SECRET), 60_000, at);
    const c = new DpopNonces(Buffer.from('another secret of more than 32 bytes!!'), 60_000, at);
    expect(a.current()).toBe(b.current());
    expect(b.accepts(a.current())).toBe(true);
    expect(c.accepts(a.current())).toBe(false);
    expect(a.current()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('rotates every window and accepts the current and the previous window only', () => {
    const clock = { t: 0 };
    const n = new DpopNonces(SECRET, 60_000, () => clock.t);
    const first = n.current();
    clock.t += 60_000;
    const second = n.current();
    expect(second).not.toBe(first);
    expect([n.accepts(first), n.isPrevious(first), n.accepts(second), n.isPrevious(second)]).toEqual([true, true, true, false]);
    clock.t += 60_000;
    expect([n.accepts(first), n.accepts(second)]).toEqual([false, true]);
    expect(n.accepts('')).toBe(false);
    expect(n.accepts('é'.repeat(43))).toBe(false);
  });
});

describe('dpop.nonce through the core', () => {
  let issuerKey: TestKey, clientKey: TestKey;
  let core: Core;
  let token: string;
  const clock = { t: NOW_S * 1000 };
  const now = () => Math.floor(clock.t / 1000);
  const decide = async (nonce?: string): Promise<Decision> =>
    core.authorizer.check(request({ headers: dpopHeaders(token, await makeProof(clientKey, { iat: now(), token, ...(nonce !== undefined ? { nonce } : {}) })) }));
  const header = (d: Decision, name: string) => (d.kind === 'deny' ? d.headers : d.responseHeaders ?? []).filter(([n]) => n === name).map(([, v]) => v);

  beforeAll(async () => {
    [issuerKey, clientKey] = await Promise.all([makeKey('ES256', 'k1'), makeKey('ES256', 'c1')]);
    const dir = mkdtempSync(join(tmpdir(), 'dpop-nonce-'));
    writeFileSync(join(dir, 'secret'), `${SECRET.toString()}\n`);
    core = await startCore(testConfig({ workers: 1, dpop: { nonce: true, nonce_secret_file: join(dir, 'secret') } }, { jwks: jwksOf(issuerKey) }), () => clock.t);
    token = await signToken(issuerKey, { cnf: { jkt: await jktOf(clientKey) } });
  });

  it('refuses a proof without a nonce: 401 dpop_nonce_required, use_dpop_nonce first, and the nonce in DPoP-Nonce', async () => {
    const d = await decide();
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'dpop_nonce_required' });
    expect(header(d, 'www-authenticate')[0]).toMatch(/^DPoP realm="portcullis", algs="[^"]+", error="use_dpop_nonce"/);
    expect(header(d, 'dpop-nonce')).toEqual([new DpopNonces(SECRET, 60_000, () => clock.t).current()]);
  });

  it('allows the retry with the nonce it was given, and refuses a made-up one', async () => {
    const nonce = header(await decide(), 'dpop-nonce')[0]!;
    expect((await decide(nonce)).kind).toBe('allow');
    expect((await decide('made-up')).reason).toBe('dpop_nonce_required');
  });

  it("still allows the previous window's nonce, and hands out the current one with the allow", async () => {
    const old = header(await decide(), 'dpop-nonce')[0]!;
    clock.t += 60_000;
    const d = await decide(old);
    expect(d.kind).toBe('allow');
    expect(header(d, 'dpop-nonce')).toEqual([new DpopNonces(SECRET, 60_000, () => clock.t).current()]);
    clock.t += 60_000;
    expect((await decide(old)).reason).toBe('dpop_nonce_required');
  });
});
