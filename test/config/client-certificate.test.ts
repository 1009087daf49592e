/**
 * `client_certificate` at config load: the contract's keys with their defaults, absent means no header is a
 * certificate, and every clash with another header is reported with its key path.
 */
import { describe, expect, it } from 'vitest';
import { configProblems } from '../support/config.ts';
import { buildConfig } from '../../src/config/load.ts';

const section = (cc?: unknown) => buildConfig(doc(cc === undefined ? {} : { client_certificate: cc }), 'test', process.cwd()).clientCertificate;
const doc = (top: Record<string, unknown>) => ({
  listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:1' },
  issuers: [{ issuer: 'https://idp.test/', jwks_uri: 'https://idp.test/jwks', audiences: ['api'] }],
  identity_headers: { sub: 'x-auth-subject' },
  ...top,
});

describe('client_certificate', () => {
  it('is absent unless configured: no header is then read as a certificate', () => {
    expect(section()).toBeUndefined();
  });

  it('defaults to from: header, header: client-cert, xfcc: false, no identity headers', () => {
    expect(section({})).toEqual({ from: 'header', header: 'client-cert', xfcc: false });
    expect(section(null)).toEqual({ from: 'header', header: 'client-cert', xfcc: false });
  });

  it('lower-cases the header and the identity header names', () => {
    expect(section({ header: 'X-SSL-Client-Cert', xfcc: true, identity_headers: { subject: 'X-Client-Subject', thumbprint: 'X-Client-Thumbprint' } }))
      .toEqual({ from: 'header', header: 'x-ssl-client-cert', xfcc: true, identityHeaders: { subject: 'x-client-subject', thumbprint: 'x-client-thumbprint' } });
  });

  it.each([
    ['an unknown source', { from: 'tls' }, 'client_certificate.from: must be one of header, got "tls"'],
    ['an invalid header name', { header: 'client cert' }, 'client_certificate.header: "client cert" is not a valid header name'],
    ['xfcc that is not a boolean', { xfcc: 'yes' }, 'client_certificate.xfcc: must be true or false, got "yes"'],
    ['an unknown key', { headers: 'x' }, 'client_certificate.headers: unknown key (known: from, header, xfcc, identity_headers)'],
    ['the token header as the certificate header', { header: 'Authorization' }, 'client_certificate.header: "authorization" is already a token or identity header'],
    ['an identity header as the certificate header', { header: 'x-auth-subject' }, 'client_certificate.header: "x-auth-subject" is already a token or identity header'],
    ['a claim identity header as a certificate identity header', { identity_headers: { subject: 'X-Auth-Subject' } }, 'client_certificate.identity_headers.subject: "x-auth-subject" is already a token or identity header'],
    ['the certificate header as an identity header', { identity_headers: { sans: 'client-cert' } }, 'client_certificate.identity_headers.sans: "client-cert" is used twice (with client_certificate.header or another certificate header)'],
    ['one header for two names', { identity_headers: { subject: 'x-c', thumbprint: 'x-c' } }, 'client_certificate.identity_headers.thumbprint: "x-c" is used twice (with client_certificate.header or another certificate header)'],
    ['a trust header as an identity header', { identity_headers: { subject: 'x-forwarded-user' } }, 'client_certificate.identity_headers.subject: "x-forwarded-user" may not carry a claim (the proxies\' trust headers)'],
  ])('refuses %s, naming the key path', (_name, section, problem) => {
    expect(configProblems(doc({ client_certificate: section }))).toEqual([problem]);
  });
});
