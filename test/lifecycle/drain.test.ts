/**
 * The shutdown sequence with an injected timer: the order of its steps, what SIGINT skips, what a second signal does.
 */
import { describe, expect, it } from 'vitest';
import { createShutdown } from '../../src/lifecycle/drain.ts';
import { silentLogger } from '../../src/log.ts';

function harness(closeResult: 'ok' | 'fail' = 'ok') {
  const steps: string[] = [];
  let wake: (() => void) | undefined;
  let finishClose: (() => void) | undefined;
  const shutdown = createShutdown({
    drainMs: 5000,
    timeoutMs: 20_000,
    beginDrain: () => steps.push('not ready'),
    close: (timeoutMs) => {
      steps.push(`close within ${timeoutMs}`);
      return new Promise<void>((resolve, reject) => (finishClose = () => (closeResult === 'ok' ? resolve() : reject(new Error('boom')))));
    },
    exit: (code) => steps.push(`exit ${code}`),
    log: silentLogger,
    sleep: (ms) => {
      steps.push(`wait ${ms}`);
      return new Promise<void>((resolve) => (wake = resolve));
    },
  });
  const tick = () => new Promise((r) => setImmediate(r));
  return { steps, shutdown, tick, drainOver: () => wake?.(), closed: () => finishClose?.() };
}

describe('shutdown', () => {
  it('on SIGTERM: not ready at once, waits the drain, then closes with the timeout, then exits 0', async () => {
    const h = harness();
    h.shutdown.signal('SIGTERM');
    await h.tick();
    expect(h.steps).toEqual(['not ready', 'wait 5000']);
    h.drainOver();
    await h.tick();
    expect(h.steps).toEqual(['not ready', 'wait 5000', 'close within 20000']);
    h.closed();
    expect(await h.shutdown.done).toBe(0);
    expect(h.steps.at(-1)).toBe('exit 0');
  });

  it('on SIGINT skips the drain wait', async () => {
    const h = harness();
    h.shutdown.signal('SIGINT');
    await h.tick();
    expect(h.steps).toEqual(['not ready', 'close within 20000']);
    h.closed();
    expect(await h.shutdown.done).toBe(0);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('exits 1 at once on a second signal (%s) during the drain', async (second) => {
    const h = harness();
    h.shutdown.signal('SIGTERM');
    await h.tick();
    h.shutdown.signal(second);
    expect(h.steps).toEqual(['not ready', 'wait 5000', 'exit 1']);
    expect(await h.shutdown.done).toBe(1);
  });

  it("does not count the primary's request as a second signal (Ctrl-C reaches a worker directly and through the primary)", async () => {
    const h = harness();
    h.shutdown.signal('SIGINT');
    h.shutdown.request('SIGINT');
    await h.tick();
    expect(h.steps).toEqual(['not ready', 'close within 20000']);
    h.closed();
    expect(await h.shutdown.done).toBe(0);
  });

  it('exits 1 when closing fails', async () => {
    const h = harness('fail');
    h.shutdown.request('SIGINT');
    await h.tick();
    h.closed();
    expect(await h.shutdown.done).toBe(1);
  });
});
