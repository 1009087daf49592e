/** The renderer keeps a rendered allow only for shared answers (a cached token's), never for a request's own. */
import { describe, expect, it } from 'vitest';
import { renderDecision } from '../../../src/transports/http/render.ts';
import type { Allow } from '../../../src/core/types.ts';

const NAMES = ['x-user-id'];
const allow = (over: Partial<Allow>): Allow => ({ kind: 'allow', reason: 'token_valid', identity: [{ name: 'x-user-id', value: 'alice' }], ...over });

describe.each(['forward_auth', 'envoy_http'] as const)('renderDecision (%s)', (mode) => {
  it('renders a shared answer once: the same identity array gets the same rendered answer', () => {
    const identity = Object.freeze([{ name: 'x-user-id', value: 'alice' }]);
    const first = renderDecision(allow({ identity, shared: true }), NAMES, mode);
    expect(renderDecision(allow({ identity, shared: true }), NAMES, mode)).toBe(first);
    expect(first.headers).toEqual(expect.arrayContaining(['x-user-id', 'alice']));
  });

  it('renders an answer that is not shared every time, even with a frozen identity array', () => {
    const identity = Object.freeze([{ name: 'x-user-id', value: 'alice' }]);
    const first = renderDecision(allow({ identity }), NAMES, mode);
    const again = renderDecision(allow({ identity }), NAMES, mode);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });
});
