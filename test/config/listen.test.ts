import { describe, expect, it } from 'vitest';
import { listenTarget, parseListenAddress } from '../../src/config/listen.ts';

describe('listen addresses', () => {
  it.each([
    { address: '127.0.0.1:9002', want: { host: '127.0.0.1', port: 9002 } },
    { address: '[::1]:0', want: { host: '::1', port: 0 } },
    { address: 'localhost:80', want: { host: 'localhost', port: 80 } },
    { address: 'unix:/run/portcullis.sock', want: { path: '/run/portcullis.sock' } },
  ])('parses listen address $address', ({ address, want }) => {
    expect(parseListenAddress(address)).toEqual(want);
    expect(listenTarget(address)).toEqual(want);
  });

  it.each(['127.0.0.1', ':9002', '127.0.0.1:99999', 'unix:', '::1:9002', 'host:port'])('rejects listen address %s', (address) => {
    expect(parseListenAddress(address)).toHaveProperty('problem');
    expect(() => listenTarget(address)).toThrow(/invalid listen address/);
  });

});
