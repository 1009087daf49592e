/** `npm run bench` picks scenarios by positional name or --scenarios, and refuses names it does not know. */
import { describe, expect, it } from 'vitest';
import { parseOptions, SCENARIOS } from '../../bench/options.ts';

const picked = (argv: string[], env: NodeJS.ProcessEnv = {}): string[] => [...parseOptions(argv, env).scenarios];

describe('bench scenario selection', () => {
  it.each([
    [[], [...SCENARIOS]],
    [['--quick'], SCENARIOS.filter((s) => s !== 'workers')],
    [['unique-http'], ['unique-http']],
    [['--quick', 'workers', 'grpc'], ['grpc', 'workers']],
    [['unique'], ['unique-http', 'unique-grpc']],
    [['--scenarios', 'http,latency'], ['http', 'latency']],
    [['flood', '--scenarios', 'micro'], ['micro', 'flood']],
  ])('%j runs %j, in the bench order', (argv, expected) => {
    expect(picked(argv)).toEqual(expected);
  });

  it('takes BENCH_SCENARIOS from the environment', () => {
    expect(picked([], { BENCH_SCENARIOS: 'grpc' })).toEqual(['grpc']);
  });

  it('refuses an unknown scenario, naming it', () => {
    expect(() => picked(['unique-htp'])).toThrow(/unknown scenario "unique-htp"/);
  });

  it('records the command as typed, for the report', () => {
    expect(parseOptions(['--quick', 'grpc'], {}).command).toBe('npm run bench -- --quick grpc');
  });

  it.each([
    [[], {}, 1],
    [['--repeat', '3', 'http', 'grpc'], {}, 3],
    [[], { BENCH_REPEAT: '2' }, 2],
  ])('%j %j repeats the run %i time(s)', (argv, env, n) => {
    expect(parseOptions(argv, env).repeat).toBe(n);
  });

  it.each<[string[], Record<string, string>, string[]]>([
    [['--repeat', '3', 'http', 'grpc', 'cel'], {}, ['grpc', 'http', 'cel']],
    [['--repeat', '3', '--repeat-scenarios', 'http,grpc'], {}, ['grpc', 'http']],
    [['--repeat', '3', 'http', 'cel'], { BENCH_REPEAT_SCENARIOS: 'http,grpc' }, ['http']],
  ])('%j %j repeats only %j', (argv, env, repeated) => {
    expect([...parseOptions(argv, env).repeatScenarios].sort()).toEqual([...repeated].sort());
  });

  it('refuses an unknown scenario to repeat', () => {
    expect(() => parseOptions(['--repeat-scenarios', 'nope'], {})).toThrow(/--repeat-scenarios: unknown scenario "nope"/);
  });

  it('refuses a repeat count that is not a positive number', () => {
    expect(() => parseOptions(['--repeat', '0'], {})).toThrow(/--repeat/);
  });
});
