/**
 * What the Dockerfile claims, checked statically (no Docker engine runs here; production-install.test.ts runs its
 * install and build): three stages on Node 24, production dependencies only in the runtime, dist/ compiled in the
 * build stage and run without src/, a numeric non-root user, the config path in PORTCULLIS_CONFIG, and exposed
 * ports that are the config's default ports.
 */
import { PORTCULLIS_NODE_FLAGS } from '../../bench/startup.ts';
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.ts';
import { copyArgs, parseDockerfile, readDockerfile, REPO_ROOT } from '../support/dockerfile.ts';

const { args, stages } = readDockerfile();
const final = stages.at(-1)!;
const all = (stage: (typeof stages)[number], keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const defaults = buildConfig({ issuers: [{ issuer: 'https://idp.test/', jwks_uri: 'https://idp.test/jwks', audiences: ['a'] }] }, 'dockerfile.test.ts', REPO_ROOT);
const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));

describe('Dockerfile', () => {
  it('builds in three stages (production dependencies, build, runtime) from one Node 24 base image', () => {
    expect(stages.map((s) => s.name)).toEqual(['deps', 'build', undefined]);
    const image = args.find((a) => a.keyword === 'ARG' && a.args.startsWith('NODE_IMAGE='))?.args.slice('NODE_IMAGE='.length);
    expect(image).toMatch(/^node:24[-.\w]*$/);
    for (const stage of stages) expect(stage.from).toBe('${NODE_IMAGE}');
  });

  it('installs production dependencies only, from the lock file, in the build stage, and the runtime takes them from there', () => {
    const install = all(stages[0]!, 'RUN').join(' && ');
    expect(install).toMatch(/\bnpm ci --omit=dev\b/);
    expect(install).not.toMatch(/npm (install|i)\b/);
    expect(all(final, 'RUN')).toEqual([]);
    expect(all(final, 'COPY').map(copyArgs)).toContainEqual({ flags: [`--from=${stages[0]!.name}`], sources: ['/app/node_modules'], dest: './node_modules' });
  });

  it('runs as a numeric non-root user (so Kubernetes runAsNonRoot can verify it)', () => {
    const users = all(final, 'USER');
    expect(users.length).toBe(1);
    const [uid, gid] = users[0]!.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
  });

  it('points PORTCULLIS_CONFIG at an absolute path and keeps HOME and TMPDIR in /tmp (nothing is written elsewhere)', () => {
    const env = all(final, 'ENV').join(' ');
    expect(env).toMatch(/\bPORTCULLIS_CONFIG=\/etc\/portcullis\/config\.yaml\b/);
    expect(env).toMatch(/\bHOME=\/tmp\b/);
    expect(env).toMatch(/\bTMPDIR=\/tmp\b/);
  });

  it('exposes exactly the default gRPC and HTTP ports of the config schema', () => {
    expect(all(final, 'EXPOSE').join(' ').split(' ').map(Number).sort()).toEqual([portOf(defaults.listen.grpc), portOf(defaults.listen.http)].sort());
  });

  it('compiles src/ with `npm run build` in the build stage, and the runtime takes dist/ from there and no source', () => {
    const build = stages[1]!;
    const scripts = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(all(build, 'RUN')).toEqual(['npm ci --ignore-scripts --no-audit --no-fund', scripts.build]);
    expect(all(build, 'COPY').map(copyArgs).flatMap((c) => c.sources)).toEqual(expect.arrayContaining(['tsconfig.json', 'tsconfig.build.json', 'scripts/build.js', 'scripts/dist.js', 'src']));
    expect(all(final, 'COPY').map(copyArgs)).toContainEqual({ flags: ['--from=build'], sources: ['/build/dist'], dest: './dist' });
    expect(all(final, 'COPY').map(copyArgs).flatMap((c) => c.sources)).not.toContain('src');
  });

  it('starts dist/main.js with node (no type stripping), and every file it copies from the context is let through by .dockerignore', () => {
    expect(all(final, 'ENTRYPOINT')).toEqual([`["node", ${PORTCULLIS_NODE_FLAGS.map((f) => `"${f}", `).join('')}"dist/main.js"]`]);
    expect(existsSync(join(REPO_ROOT, 'src/main.ts'))).toBe(true);
    const reincluded = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = stages.flatMap((s) => all(s, 'COPY').map(copyArgs)).filter((c) => c.flags.length === 0).flatMap((c) => c.sources);
    expect(sources.length).toBeGreaterThan(2);
    for (const source of sources) expect(reincluded, source).toContain(source.replace(/\/$/, ''));
  });

  it('is parsed as Docker reads it: comments dropped, continuations joined, stages split', () => {
    const parsed = parseDockerfile('ARG A=1\n# c\nFROM x AS b\nRUN a \\\n  b\nFROM y\nUSER 1\n');
    expect(parsed).toEqual({
      args: [{ keyword: 'ARG', args: 'A=1' }],
      stages: [
        { from: 'x', name: 'b', instructions: [{ keyword: 'RUN', args: 'a b' }] },
        { from: 'y', name: undefined, instructions: [{ keyword: 'USER', args: '1' }] },
      ],
    });
  });
});
