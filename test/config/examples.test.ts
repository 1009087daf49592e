/**
 * Every config example the docs and deploy/ show is valid: against the emitted JSON Schema (ajv) AND through the real
 * loader.
 *
 * Which blocks are configs: in docs/*.md and README.md, every fenced block whose info string is exactly `yaml` is a
 * Portcullis config (or a part of one). YAML of anything else is fenced with a second word (```yaml kubernetes,
 * ```yaml fragment), which this test skips. In deploy/: deploy/portcullis.yaml, and the `config.yaml` of every
 * ConfigMap under deploy/kubernetes.
 *
 * A part of a config (only `telemetry:`, say) is completed for the loader with one placeholder issuer when it has
 * neither `issuers` nor `signer`; files an example names on the reader's machine (secrets, key directories, CA
 * roots) are not here, so only "cannot read" problems about them are set aside. Everything else must load.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import Ajv2020Module from 'ajv/dist/2020.js';
import { configJsonSchema } from '../../src/config/json-schema.ts';
import { configProblems } from '../support/config.ts';

const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;
const validate = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false }).compile(configJsonSchema());

const ROOT = join(import.meta.dirname, '../..');

interface Example {
  readonly where: string;
  readonly text: string;
}

function markdownExamples(): Example[] {
  const files = [...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`), 'README.md'];
  const out: Example[] = [];
  for (const file of files) {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.trimEnd() !== '```yaml') continue;
      const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
      out.push({ where: `${file}:${i + 1}`, text: lines.slice(i + 1, end).join('\n') });
      i = end;
    }
  }
  return out;
}

function deployExamples(): Example[] {
  const out: Example[] = [{ where: 'deploy/portcullis.yaml', text: readFileSync(join(ROOT, 'deploy/portcullis.yaml'), 'utf8') }];
  const dir = join(ROOT, 'deploy/kubernetes');
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    if (!f.endsWith('.yaml')) continue;
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const k8s = doc.toJS() as { kind?: string; data?: Record<string, string> } | null;
      if (k8s?.kind === 'ConfigMap' && typeof k8s.data?.['config.yaml'] === 'string') out.push({ where: `deploy/kubernetes/${f} config.yaml`, text: k8s.data['config.yaml'] });
    }
  }
  return out;
}

const examples = [...markdownExamples(), ...deployExamples()];
const PLACEHOLDER_ISSUER = { issuer: 'https://placeholder.test/', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] }, audiences: ['placeholder'] };

describe('config examples in docs/ and deploy/', () => {
  it('finds the examples (docs, README, deploy/portcullis.yaml, the ConfigMap)', () => {
    expect(examples.length).toBeGreaterThan(12);
    expect(examples.map((e) => e.where)).toEqual(expect.arrayContaining(['deploy/portcullis.yaml', 'deploy/kubernetes/configmap.yaml config.yaml']));
  });

  // The examples name secrets by environment variable (password_env); the loader refuses an unset one, as a start would.
  beforeAll(() => {
    process.env.REDIS_SENTINEL_PASSWORD ??= 'example';
  });

  it.each(examples.map((e) => [e.where, e] as const))('%s is valid against the JSON Schema and through the loader', (where, { text }) => {
    const doc = parseYaml(text) as Record<string, unknown> | null;
    expect(typeof doc === 'object' && doc !== null && !Array.isArray(doc), `${where}: a \`\`\`yaml block is a Portcullis config example; fence other YAML as \`\`\`yaml kubernetes (or another second word)`).toBe(true);
    const valid = validate(doc);
    expect(validate.errors ?? [], where).toEqual([]);
    expect(valid).toBe(true);
    const complete = doc!.issuers === undefined && doc!.signer === undefined ? { ...doc, issuers: [PLACEHOLDER_ISSUER] } : doc;
    const problems = configProblems(complete, ROOT).filter((p) => !/: cannot read /.test(p));
    expect(problems, where).toEqual([]);
  });
});
