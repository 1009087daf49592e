/**
 * deploy/kubernetes/optional/redis.yaml validates against the Kubernetes schemas (kubernetes-models), and keeps the
 * settings docs/replay.md relies on: one replica, a password from a Secret, noeviction, only Portcullis may connect.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Service } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';

const docs = parseAllDocuments(readFileSync(new URL('../../deploy/kubernetes/optional/redis.yaml', import.meta.url), 'utf8')).map((d) => d.toJS());
const byKind = (kind: string) => docs.find((d) => d.kind === kind);

describe('deploy/kubernetes/optional/redis.yaml', () => {
  it.each([
    ['Deployment', Deployment],
    ['Service', Service],
    ['NetworkPolicy', NetworkPolicy],
  ] as const)('has a valid %s', (kind, Model) => {
    expect(() => new (Model as any)(byKind(kind)).validate()).not.toThrow();
  });

  it('runs one Redis that evicts nothing, persists nothing, and takes its password from a Secret', () => {
    const deployment = byKind('Deployment');
    expect(deployment.spec.replicas).toBe(1);
    const container = deployment.spec.template.spec.containers[0];
    const args: string[] = container.args;
    expect(args[args.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    expect(args[args.indexOf('--requirepass') + 1]).toBe('$(REDIS_PASSWORD)');
    expect(container.env).toContainEqual({ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'portcullis-redis', key: 'password' } } });
  });

  it('lets only Portcullis pods reach it, on the port the Service exposes', () => {
    expect(byKind('Service').spec.ports[0].port).toBe(6379);
    expect(byKind('NetworkPolicy').spec.ingress[0]).toEqual({
      from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'portcullis' } } }],
      ports: [{ protocol: 'TCP', port: 6379 }],
    });
  });
});
