/**
 * Values that are there now or later. The decision path stays synchronous as long as nothing waits for I/O (a cached
 * token, a deny before verification), and becomes a promise only at the step that must wait (a signature on the
 * threadpool, a replay store, a signer): one code path for both, without a microtask turn per step on the hot path.
 */
export type Later<T> = T | Promise<T>;

/** `fn(value)` now, or once `value` has settled. A rejection passes through untouched. */
export function andThen<T, U>(value: Later<T>, fn: (value: T) => Later<U>): Later<U> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}
