/** proto/ must stay wire-compatible with the upstream definitions and pass `buf lint`. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { packageDefinition } from '../../../src/transports/grpc/protos.ts';
import { upstreamDefinitions, upstreamHealth } from '../../support/envoy-client.ts';

interface Field { name: string; number: number; label: string; type: string; typeName: string }
interface EnumDescriptor { name: string; value: { name: string; number: number }[] }
interface MessageDescriptor { name: string; field: Field[]; nestedType: MessageDescriptor[]; enumType: EnumDescriptor[] }

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const upstream = { ...upstreamDefinitions, ...upstreamHealth };

const lastSegment = (typeName: string) => typeName.slice(typeName.lastIndexOf('.') + 1);

/** Differences between our message and upstream's, plus the upstream fields we leave out (path-qualified). */
function compare(path: string, ours: MessageDescriptor, theirs: MessageDescriptor, problems: string[], omitted: string[]): void {
  for (const field of ours.field) {
    const match = theirs.field.find((f) => f.number === field.number);
    const shape = (f: Field) => `${f.name} = ${f.number} ${f.label} ${f.type} ${lastSegment(f.typeName)}`;
    if (match === undefined || shape(match) !== shape(field)) problems.push(`${path}: ours ${shape(field)}, upstream ${match ? shape(match) : 'none'}`);
  }
  for (const field of theirs.field) if (!ours.field.some((f) => f.number === field.number)) omitted.push(`${path}.${field.name}`);
  for (const nested of ours.nestedType) {
    const match = theirs.nestedType.find((n) => n.name === nested.name);
    if (match === undefined) problems.push(`${path}.${nested.name}: not upstream`);
    else compare(`${path}.${nested.name}`, nested, match, problems, omitted);
  }
  for (const en of ours.enumType) {
    const match = theirs.enumType.find((e) => e.name === en.name);
    expect(match?.value, `${path}.${en.name}`).toEqual(en.value);
  }
}

describe('proto/', () => {
  it('matches the upstream Envoy, googleapis and grpc-proto definitions field for field, omitting only what we chose to', () => {
    const problems: string[] = [];
    const omitted: string[] = [];
    const ours = Object.entries(packageDefinition).filter(([name]) => !name.startsWith('google.protobuf.'));
    expect(ours.length).toBeGreaterThan(10);
    for (const [name, definition] of ours) {
      const theirs = upstream[name];
      expect(theirs, name).toBeDefined();
      const format = (definition as { format?: unknown }).format;
      if (typeof format !== 'string') {
        // A service: same methods, paths, streaming and message types.
        const shape = (service: object) =>
          Object.entries(service).map(([method, m]) => [method, m.path, m.requestStream, m.responseStream, m.requestType.type.name, m.responseType.type.name]);
        expect(shape(definition), name).toEqual(shape(theirs as object));
        continue;
      }
      const oursType = (definition as { type: unknown }).type;
      const theirsType = (theirs as { type: unknown }).type;
      if (format.endsWith('EnumDescriptorProto')) {
        expect((oursType as EnumDescriptor).value, name).toEqual((theirsType as EnumDescriptor).value);
        continue;
      }
      compare(name, oursType as MessageDescriptor, theirsType as MessageDescriptor, problems, omitted);
    }
    expect(problems).toEqual([]);
    expect(omitted.sort()).toEqual([
      'envoy.config.core.v3.Address.envoy_internal_address',
      'envoy.service.auth.v3.AttributeContext.HttpRequest.body',
      'envoy.service.auth.v3.AttributeContext.HttpRequest.raw_body',
    ]);
  });

  it('passes buf lint', () => {
    const result = spawnSync(`${ROOT}node_modules/.bin/buf`, ['lint'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
