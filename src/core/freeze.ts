/**
 * Deep freezing, for values that many requests share read-only: the frozen config (config/load.ts) and decoded JWS
 * headers remembered by their segment (jws.ts `HeaderMemo`). A stack, not recursion: a header's nesting depth is
 * the sender's choice.
 */
export function deepFreeze<T>(value: T): T {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
      Object.freeze(v);
      for (const member of Object.values(v)) pending.push(member);
    }
  }
  return value;
}
