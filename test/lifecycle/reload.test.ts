/**
 * The reloader on a real file, with the watch replaced by a trigger the test pulls (test/lifecycle/watch.test.ts
 * covers the real watch): what it applies, what it refuses and why.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFileWithText } from '../../src/config/load.ts';
import type { Config } from '../../src/core/config.ts';
import { restartOnlyChanges, startReloader } from '../../src/lifecycle/reload.ts';
import { testConfig } from '../support/core.ts';

const ISSUER = (aud = 'api') => `issuers:\n  - issuer: "https://a.test/"\n    jwks_uri: "https://a.test/jwks"\n    audiences: [${aud}]\n`;

function harness(initial: string) {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-reloader-'));
  const path = join(dir, 'c.yaml');
  writeFileSync(path, initial);
  let running = loadConfigFileWithText(path);
  const applied: Config[] = [];
  const refused: (readonly string[])[] = [];
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  let fire: () => void = () => {};
  const reloader = startReloader({
    path,
    load: () => loadConfigFileWithText(path),
    current: () => running.config,
    currentText: running.text,
    apply: async (config, text) => {
      applied.push(config);
      running = { config, text };
    },
    refused: (p) => refused.push(p),
    log: { log: (level, msg, fields) => lines.push({ level, msg, ...(fields ? { fields } : {}) }) },
    watch: (_p, onChange) => {
      fire = onChange;
      return () => {};
    },
    sighup: false,
  });
  return { path, applied, refused, lines, reloader, write: (text: string) => writeFileSync(path, text), fire: () => fire() };
}

describe('restartOnlyChanges', () => {
  const base = testConfig({}, { jwks_uri: 'https://a.test/jwks' });
  it.each([
    ['nothing that needs a restart', {}, []],
    ['listen.grpc', { listen: { ...base.listen, grpc: '127.0.0.1:5' } }, ['listen.grpc']],
    ['listen.http', { listen: { ...base.listen, http: '127.0.0.1:5' } }, ['listen.http']],
    ['listen.admin', { listen: { ...base.listen, admin: '127.0.0.1:5' } }, ['listen.admin']],
    ['workers', { workers: base.workers + 1 }, ['workers']],
    ['grpc.max_request_bytes', { grpc: { maxRequestBytes: base.grpc.maxRequestBytes * 2 } }, ['grpc.max_request_bytes']],
    ['telemetry.metrics', { telemetry: { ...base.telemetry, metrics: !base.telemetry.metrics } }, ['telemetry.metrics']],
    ['everything but restart-only settings', { realm: 'other', excludes: ['/x'], shutdown: { drainMs: 1, timeoutMs: 1 } }, []],
  ])('names %s', (_name, change, expected) => {
    expect(restartOnlyChanges(base, { ...base, ...change } as Config)).toEqual(expected);
  });
});

describe('startReloader', () => {
  it('applies a valid change and logs it', async () => {
    const h = harness(ISSUER());
    h.write(ISSUER('new'));
    expect(await h.reloader.reload('watch')).toBe('ok');
    expect(h.applied.map((c) => c.issuers[0]!.audiences)).toEqual([['new']]);
    expect(h.lines.at(-1)).toMatchObject({ level: 'info', msg: 'config reloaded', fields: { trigger: 'watch' } });
  });

  it('ignores a watch event that left the text as it was, but reloads on SIGHUP whatever the text', async () => {
    const h = harness(ISSUER());
    expect(await h.reloader.reload('watch')).toBe('unchanged');
    expect(await h.reloader.reload('sighup')).toBe('ok');
    expect(h.applied).toHaveLength(1);
  });

  it('refuses an invalid config with every problem by path, and applies nothing', async () => {
    const h = harness(ISSUER());
    h.write(`${ISSUER()}realm: 5\njwks: { cooldown: soon }\n`);
    expect(await h.reloader.reload('watch')).toBe('error');
    expect(h.applied).toEqual([]);
    expect(h.refused[0]).toEqual(expect.arrayContaining([expect.stringMatching(/^realm: /), expect.stringMatching(/^jwks\.cooldown: /)]));
    expect(h.lines.at(-1)).toMatchObject({ level: 'error', fields: { problems: h.refused[0] } });
  });

  it('refuses a config whose CEL condition does not type-check, naming its path and position', async () => {
    const h = harness(ISSUER());
    h.write(`${ISSUER()}routes:\n  - require: { when: 'claims.roles.exists(r, r == 1) && request.nope' }\n`);
    expect(await h.reloader.reload('watch')).toBe('error');
    expect(h.applied).toEqual([]);
    expect(h.refused[0]).toEqual(['routes[0].require.when: No such key: nope (line 1, column 43)']);
  });

  it.each([
    ['an unreadable file', (h: ReturnType<typeof harness>) => h.write(':\n  - ['), 'not valid YAML'],
    ['an empty file (an editor mid-save)', (h: ReturnType<typeof harness>) => h.write(''), 'issuers: required'],
  ])('refuses %s', async (_name, change, problem) => {
    const h = harness(ISSUER());
    change(h);
    expect(await h.reloader.reload('watch')).toBe('error');
    expect(h.refused[0]!.join('\n')).toContain(problem);
  });

  it('refuses the whole reload when a restart-only setting changed, naming it', async () => {
    const h = harness(`workers: 2\n${ISSUER()}`);
    h.write(`workers: 3\nlisten: { http: "127.0.0.1:7777" }\n${ISSUER('new')}`);
    expect(await h.reloader.reload('watch')).toBe('error');
    expect(h.applied).toEqual([]);
    expect(h.refused[0]).toEqual(['listen.http: changing it needs a restart', 'workers: changing it needs a restart']);
  });

  it('runs reloads one at a time, in order, from the watch trigger', async () => {
    const h = harness(ISSUER());
    h.write(ISSUER('one'));
    const first = h.reloader.reload('watch');
    const second = h.reloader.reload('sighup');
    expect(await first).toBe('ok');
    expect(await second).toBe('ok');
    h.write(ISSUER('two'));
    h.fire();
    await new Promise((r) => setTimeout(r, 50));
    expect(h.applied.map((c) => c.issuers[0]!.audiences[0])).toEqual(['one', 'one', 'two']);
  });
});
