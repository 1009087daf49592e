/**
 * gRPC reads the client certificate from the CheckRequest's source.certificate (Envoy's own TLS state) always, and
 * from x-forwarded-client-cert only with client_certificate.xfcc, where it wins; never from any other header.
 */
import { describe, expect, it } from 'vitest';
import { toAuthRequest } from '../../../src/transports/grpc/ext-authz.ts';
import { decodeCheckRequest } from '../../../src/transports/grpc/check-service.ts';
import { encodeCheckRequest } from '../../support/raw-grpc.ts';

const PEM = '-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A';
const check = (source: object, headers: Record<string, string> = {}) => ({
  attributes: { source, request: { http: { method: 'GET', path: '/', host: 'app.test', headers: { authorization: 'Bearer t', ...headers } } } },
});
/** Through the bytes and the fast decoder, as a Check call reads it. */
const viaWire = (message: object, xfcc = false) => toAuthRequest(decodeCheckRequest(encodeCheckRequest(message), () => {}), xfcc);

describe('the client certificate of a CheckRequest', () => {
  it('is source.certificate, as Envoy sent it', () => {
    expect(viaWire(check({ certificate: PEM, principal: 'spiffe://x' })).clientCertificate).toEqual({ source: 'envoy', raw: PEM });
  });

  it('is absent when source.certificate is empty or missing', () => {
    expect(viaWire(check({ certificate: '' })).clientCertificate).toBeUndefined();
    expect(viaWire(check({})).clientCertificate).toBeUndefined();
    expect(toAuthRequest(null).clientCertificate).toBeUndefined();
  });

  it('never comes from a header a client could send, without client_certificate.xfcc', () => {
    const r = viaWire(check({}, { 'x-forwarded-client-cert': 'Hash=ab', 'client-cert': ':AAAA:' }));
    expect(r.clientCertificate).toBeUndefined();
    expect(viaWire(check({ certificate: PEM }, { 'x-forwarded-client-cert': 'Hash=ab' })).clientCertificate).toEqual({ source: 'envoy', raw: PEM });
  });

  it('is x-forwarded-client-cert with client_certificate.xfcc, over source.certificate, which stays the fallback', () => {
    expect(viaWire(check({ certificate: PEM }, { 'x-forwarded-client-cert': 'Hash=ab' }), true).clientCertificate).toEqual({ source: 'xfcc', raw: 'Hash=ab' });
    expect(viaWire(check({ certificate: PEM }), true).clientCertificate).toEqual({ source: 'envoy', raw: PEM });
  });

  it('keeps repeated raw XFCC headers apart (unreadable, never one of them)', () => {
    const message = { attributes: { request: { http: { method: 'GET', path: '/', header_map: { headers: [
      { key: 'x-forwarded-client-cert', raw_value: Buffer.from('Hash=aa') },
      { key: 'x-forwarded-client-cert', raw_value: Buffer.from('Hash=bb') },
    ] } } } } };
    expect(viaWire(message, true).clientCertificate).toEqual({ source: 'xfcc', raw: ['Hash=aa', 'Hash=bb'] });
  });
});
