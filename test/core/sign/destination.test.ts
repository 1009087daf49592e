/** The audience of an outbound call: the destination origin, or nothing for anything that is not a plain authority. */
import { describe, expect, it } from 'vitest';
import { destinationOrigin } from '../../../src/core/sign/destination.ts';

describe('destinationOrigin', () => {
  it.each([
    ['https', 'payments.svc', 'https://payments.svc'],
    ['https', 'payments.svc:443', 'https://payments.svc'],
    ['http', 'payments.svc:80', 'http://payments.svc'],
    ['http', 'Payments.SVC:8080', 'http://payments.svc:8080'],
    ['HTTPS', 'payments.svc.cluster.local.', 'https://payments.svc.cluster.local'],
    ['http', '10.0.0.7:9000', 'http://10.0.0.7:9000'],
    ['https', '[::1]:8443', 'https://[::1]:8443'],
    ['https', 'xn--bcher-kva.example', 'https://xn--bcher-kva.example'],
  ])('%s + %s is %s', (scheme, host, origin) => {
    expect(destinationOrigin(scheme, host)).toBe(origin);
  });

  it.each([
    ['no scheme', '', 'payments.svc'],
    ['another scheme', 'ftp', 'payments.svc'],
    ['no host', 'https', ''],
    ['a path', 'https', 'payments.svc/admin'],
    ['credentials', 'https', 'user:pw@payments.svc'],
    ['two hosts', 'https', 'a.svc,b.svc'],
    ['a space', 'https', 'pay ments.svc'],
    ['a control character', 'https', 'payments.svc\r\nx: y'],
    ['port 0', 'https', 'payments.svc:0'],
    ['port 65536', 'https', 'payments.svc:65536'],
    ['a leading-zero port', 'https', 'payments.svc:0443'],
    ['an empty port', 'https', 'payments.svc:'],
    ['a bad IPv6', 'https', '[::g]:443'],
    ['an IPv4 out of range', 'https', '10.0.0.999'],
    ['an underscore', 'https', 'pay_ments.svc'],
    ['a label too long', 'https', `${'a'.repeat(64)}.svc`],
    ['a query', 'https', 'payments.svc?x=1'],
    ['a fragment', 'https', 'payments.svc#x'],
    ['non-ASCII', 'https', 'bücher.example'],
  ])('refuses %s', (_, scheme, host) => {
    expect(destinationOrigin(scheme, host)).toBeNull();
  });
});
