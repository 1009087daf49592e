/**
 * The client certificate as proxies hand it over: every spelling of the same certificate gives the same RFC 8705
 * thumbprint, anything else is unreadable with a reason (never a throw), and its names are those identity headers
 * and rules see.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFrom, certificateView, readCertificate, type CertificateSource } from '../../src/core/client-certificate.ts';
import { ALICE_SANS, clientPki, derBase64, envoyPem, escapedPem, rfc9440, sha256Hex, x5tS256, type ClientPki } from '../support/client-certs.ts';

let c: ClientPki;
beforeAll(() => {
  c = clientPki();
});
afterAll(() => c.pki.cleanup());

const read = (source: CertificateSource, ...values: string[]) => readCertificate(certificateFrom(source, values)!);

describe('reading a client certificate', () => {
  it.each([
    ['header', 'RFC 9440 Client-Cert :base64-DER:', () => rfc9440(c.alice)],
    ['header', "nginx's $ssl_client_escaped_cert (URL-encoded PEM)", () => escapedPem(c.alice)],
    ['header', "Caddy's certificate_der_base64", () => derBase64(c.alice)],
    ['header', 'Envoy-style URL-encoded PEM, surrounded by spaces', () => ` ${envoyPem(c.alice)} `],
    ['envoy', "Envoy's source.certificate", () => envoyPem(c.alice)],
    ['envoy', 'source.certificate with every reserved character escaped', () => escapedPem(c.alice)],
    ['xfcc', 'XFCC with Hash and Cert', () => `By=spiffe://example.test/gw;Hash=${sha256Hex(c.alice)};Cert="${envoyPem(c.alice)}";Subject="CN=alice,O=Portcullis Test";URI=`],
    ['xfcc', 'XFCC with Cert only', () => `Cert=${envoyPem(c.alice)}`],
    ['xfcc', 'XFCC with Hash only (Istio)', () => `By=spiffe://cluster.local/ns/a/sa/b;Hash=${sha256Hex(c.alice).toUpperCase()};Subject="";URI=spiffe://example.test/ns/app/sa/alice`],
  ] as const)('reads the %s form %s as its SHA-256 thumbprint', (source, _name, value) => {
    expect(read(source, value())).toMatchObject({ ok: true, thumbprint: x5tS256(c.alice) });
  });

  it.each([
    ['header', 'two values of the header', () => [derBase64(c.alice), derBase64(c.mallory)], /sent 2 times/],
    ['header', 'base64url instead of base64', () => [derBase64(c.alice).replace(/\+/g, '-').replace(/\//g, '_')], /not base64 DER/],
    ['header', 'base64 that is not a certificate', () => ['aGVsbG8gd29ybGQ='], /not a DER X.509 certificate/],
    ['header', 'an RFC 9440 value without its closing colon', () => [`:${derBase64(c.alice)}`], /RFC 9440/],
    ['header', 'a DER certificate with a byte appended', () => [Buffer.concat([Buffer.from(derBase64(c.alice), 'base64'), Buffer.from([0])]).toString('base64')], /not a DER X.509 certificate/],
    ['header', 'a broken %-escape', () => ['-----BEGIN%20CERTIFICATE-----%0AMII%zz'], /broken %-escape/],
    ['header', 'two PEM certificates', () => [encodeURIComponent(c.alice.pem + c.mallory.pem)], /holds 2 PEM certificates/],
    ['header', 'something else', () => ['CN=alice'], /not base64 DER/],
    ['header', 'a value over 32 KiB', () => ['A'.repeat(40_000)], /longer than 32768/],
    ['envoy', 'plain base64 in source.certificate', () => [derBase64(c.alice)], /holds 0 PEM certificates/],
    ['xfcc', 'two XFCC elements (an APPEND_FORWARD chain)', () => [`Hash=${sha256Hex(c.alice)},Hash=${sha256Hex(c.mallory)}`], /holds 2 elements/],
    ['xfcc', 'an XFCC Hash that is not its Cert', () => [`Hash=${sha256Hex(c.mallory)};Cert="${envoyPem(c.alice)}"`], /Hash is not the SHA-256 of its Cert/],
    ['xfcc', 'an XFCC Hash that is not hex SHA-256', () => ['Hash=abc'], /not a hex SHA-256/],
    ['xfcc', 'an XFCC element without Hash or Cert', () => ['By=spiffe://x;URI=spiffe://y'], /neither Hash nor Cert/],
    ['xfcc', 'an XFCC with an open quote', () => ['Subject="CN=a'], /unterminated/],
    ['xfcc', 'an XFCC repeating Hash', () => [`Hash=${sha256Hex(c.alice)};hash=${sha256Hex(c.mallory)}`], /repeats hash/],
  ] as const)('refuses (as unreadable) in the %s form %s', (source, _name, values, says) => {
    const r = read(source, ...values());
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(says);
  });

  it('takes an absent, empty or blank header as no certificate', () => {
    expect(certificateFrom('header', undefined)).toBeUndefined();
    expect(certificateFrom('header', [''])).toBeUndefined();
    expect(certificateFrom('header', [' ', ''])).toBeUndefined();
  });

  it('reads a certificate once per request, however often it is asked', () => {
    const cert = certificateFrom('header', [derBase64(c.alice)])!;
    expect(readCertificate(cert)).toBe(readCertificate(cert));
  });
});

describe('what identity headers and rules see of a client certificate', () => {
  it('gives the subject, every SAN, the SANs by kind and the thumbprint', () => {
    expect(certificateView(certificateFrom('header', [rfc9440(c.alice)]))).toEqual({
      subject: 'CN=alice,O=Portcullis Test',
      sans: ALICE_SANS,
      dns: ['alice.example.test'],
      uri: ['spiffe://example.test/ns/app/sa/alice'],
      email: ['alice@example.test'],
      thumbprint: x5tS256(c.alice),
    });
  });

  it('gives only the thumbprint of an XFCC Hash, and nothing of an unreadable or absent certificate', () => {
    expect(certificateView(certificateFrom('xfcc', [`Hash=${sha256Hex(c.alice)}`]))).toEqual({ subject: undefined, sans: [], dns: [], uri: [], email: [], thumbprint: x5tS256(c.alice) });
    expect(certificateView(certificateFrom('header', ['garbage']))).toBeUndefined();
    expect(certificateView(undefined)).toBeUndefined();
  });
});
