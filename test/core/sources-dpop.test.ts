/** Token sources and DPoP (RFC 9449): the DPoP scheme beside Bearer, the one proof header, and the remover and masker. */
import { describe, expect, it } from 'vitest';
import { findProof, findToken, maskHeader, removeTokens } from '../../src/core/sources.ts';

const JWT = 'aaa.bbb.ccc';
const PROOF = 'ppp.qqq.rrr';
const sources = { headers: [{ name: 'authorization', prefix: 'Bearer ' }, { name: 'x-token', prefix: '' }], cookies: ['access_token'], maxBytes: 64 };
const h = (entries: Record<string, string | string[]>) => new Map(Object.entries(entries).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));

describe('findToken and the DPoP scheme', () => {
  it.each([
    ['Authorization: DPoP', { authorization: `DPoP ${JWT}` }, true],
    ['the scheme in any case', { authorization: `dpop ${JWT}` }, true],
    ['Authorization: Bearer', { authorization: `Bearer ${JWT}` }, false],
    ['a cookie', { cookie: `access_token=${JWT}` }, false],
    ['a header without a prefix', { 'x-token': JWT }, false],
  ])('says which scheme was used: %s', (_name, headers, dpop) => {
    expect(findToken(h(headers), sources)).toEqual({ kind: 'token', token: JWT, source: expect.any(String), dpop });
  });

  it('takes DPoP only where a source takes Bearer', () => {
    expect(findToken(h({ 'x-token': `DPoP ${JWT}` }), sources)).toMatchObject({ kind: 'token', token: `DPoP ${JWT}`, dpop: false });
    expect(findToken(h({ authorization: `DPoPx ${JWT}` }), sources)).toEqual({ kind: 'none' });
  });

  it.each([
    ['DPoP and Bearer in two headers', { authorization: [`DPoP ${JWT}`, `Bearer ${JWT}`] }],
    ['DPoP and Bearer comma-merged', { authorization: `DPoP ${JWT}, Bearer ${JWT}` }],
    ['a DPoP header and the token cookie', { authorization: `DPoP ${JWT}`, cookie: `access_token=${JWT}` }],
  ])('refuses the same token with and without the DPoP scheme: %s', (_name, headers) => {
    expect(findToken(h(headers), sources)).toMatchObject({ kind: 'error', reason: 'token_ambiguous' });
  });
});

describe('findProof', () => {
  it.each<[string, Record<string, string | string[]>, ReturnType<typeof findProof>['kind']]>([
    ['none', {}, 'none'],
    ['an empty header', { dpop: '' }, 'none'],
    ['one proof', { dpop: PROOF }, 'proof'],
    ['a blank header', { dpop: '  ' }, 'none'],
    ['one proof and an empty header', { dpop: [PROOF, ''] }, 'proof'],
    ['two headers', { dpop: [PROOF, PROOF] }, 'error'],
    ['two comma-merged', { dpop: `${PROOF}, ${PROOF}` }, 'error'],
  ])('%s', (_name, headers, kind) => {
    const found = findProof(h(headers));
    expect(found.kind).toBe(kind);
    if (found.kind === 'proof') expect(found.proof).toBe(PROOF);
  });

  it('trims the one proof of a single header', () => {
    expect(findProof(h({ dpop: ` ${PROOF}\t` }))).toEqual({ kind: 'proof', proof: PROOF });
  });
});

describe('the proof and forward_token: false', () => {
  it('removes the DPoP header with the token', () => {
    expect(removeTokens(h({ authorization: `DPoP ${JWT}`, dpop: PROOF }), sources).strip).toEqual(['authorization', 'dpop']);
  });

  it('never shows a proof in explain output', () => {
    expect(maskHeader('dpop', PROOF, sources)).toBe('(11 bytes, not shown)');
  });
});
