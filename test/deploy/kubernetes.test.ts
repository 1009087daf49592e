/**
 * Every manifest under deploy/kubernetes/ (every document of every YAML file, including files added later) is valid
 * against the Kubernetes API schemas, strictly: test/support/kubernetes-validate.ts says how (maintained model
 * packages + an unknown-field check; strict JSON schemas for what no package covers). No cluster runs here.
 * The negative rows prove the validator can fail: a misspelt field, a wrong type, a bad enum, an unknown kind.
 */
import { describe, expect, it } from 'vitest';
import { kubernetesManifests, validateManifest } from '../support/kubernetes-validate.ts';

const all = kubernetesManifests();
const find = (kind: string) => structuredClone(all.find((m) => m.doc.kind === kind)!.doc);

describe('deploy/kubernetes/', () => {
  it('holds the whole deployment: every kind the docs promise', () => {
    expect([...new Set(all.map((m) => `${m.doc.apiVersion} ${m.doc.kind}`))]).toEqual(
      expect.arrayContaining([
        'v1 Namespace', 'v1 ConfigMap', 'apps/v1 Deployment', 'v1 Service', 'autoscaling/v2 HorizontalPodAutoscaler',
        'policy/v1 PodDisruptionBudget', 'install.istio.io/v1alpha1 IstioOperator', 'security.istio.io/v1 AuthorizationPolicy',
        'gateway.envoyproxy.io/v1alpha1 SecurityPolicy', 'gateway.networking.k8s.io/v1beta1 ReferenceGrant',
      ]),
    );
    expect(all.length).toBeGreaterThanOrEqual(10);
  });

  it.each(all.map((m) => [`${m.file} #${m.index} (${m.doc.kind} ${m.doc.metadata?.name})`, m] as const))('%s is valid', async (_, m) => {
    expect(await validateManifest(m.doc)).toEqual([]);
  });
});

const NEGATIVE: readonly { name: string; doc: () => unknown; problem: RegExp }[] = [
  {
    name: 'a misspelt field deep in a Deployment (readOnlyRootFileSystem)',
    doc: () => {
      const d = find('Deployment');
      d.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
      return d;
    },
    problem: /data\/spec\/template\/spec\/containers\[0\]\/securityContext\/readOnlyRootFileSystem is not a field/,
  },
  {
    name: 'a string where a Deployment wants an integer (replicas)',
    doc: () => ({ ...find('Deployment'), spec: { ...find('Deployment').spec, replicas: '3' } }),
    problem: /data\/spec\/replicas must be integer/,
  },
  {
    name: 'a top-level field a ConfigMap does not have',
    doc: () => ({ ...find('ConfigMap'), spec: {} }),
    problem: /data\/spec is not a field/,
  },
  {
    name: 'a number where a Service port wants a string (appProtocol)',
    doc: () => {
      const d = find('Service');
      d.spec.ports[0].appProtocol = 9001;
      return d;
    },
    problem: /data\/spec\/ports\/0\/appProtocol must be string/,
  },
  {
    name: 'a misspelt field in an HPA metric target',
    doc: () => {
      const d = find('HorizontalPodAutoscaler');
      d.spec.metrics[0].resource.target.averageUtilisation = 70;
      return d;
    },
    problem: /averageUtilisation is not a field/,
  },
  {
    name: 'an Istio AuthorizationPolicy action outside the enum',
    doc: () => ({ ...find('AuthorizationPolicy'), spec: { ...find('AuthorizationPolicy').spec, action: 'CUSTOMISED' } }),
    problem: /data\/spec\/action must be equal to one of the allowed values/,
  },
  {
    name: 'a misspelt field in an Istio AuthorizationPolicy provider',
    doc: () => ({ ...find('AuthorizationPolicy'), spec: { ...find('AuthorizationPolicy').spec, provider: { nmae: 'portcullis' } } }),
    problem: /data\/spec\/provider\/nmae is not a field/,
  },
  {
    name: 'a misspelt field in the Istio extension provider (prot)',
    doc: () => {
      const d = find('IstioOperator');
      d.spec.meshConfig.extensionProviders[0].envoyExtAuthzGrpc.prot = 9001;
      return d;
    },
    problem: /data\/spec\/meshConfig\/extensionProviders\/0\/envoyExtAuthzGrpc must NOT have additional properties/,
  },
  {
    name: 'a duration without unit in the Istio extension provider',
    doc: () => {
      const d = find('IstioOperator');
      d.spec.meshConfig.extensionProviders[0].envoyExtAuthzGrpc.timeout = 250;
      return d;
    },
    problem: /envoyExtAuthzGrpc\/timeout must be string/,
  },
  {
    name: 'a misspelt field in the metadata of an IstioOperator (package-validated part)',
    doc: () => ({ ...find('IstioOperator'), metadata: { name: 'x', namespce: 'istio-system' } }),
    problem: /data\/metadata\/namespce is not a field/,
  },
  {
    name: 'a misspelt field in an Envoy Gateway backendRef',
    doc: () => {
      const d = find('SecurityPolicy');
      d.spec.extAuth.grpc.backendRefs[0].prot = 9001;
      return d;
    },
    problem: /data\/spec\/extAuth\/grpc\/backendRefs\/0 must NOT have additional properties/,
  },
  {
    name: 'a string where Envoy Gateway wants a boolean (failOpen)',
    doc: () => {
      const d = find('SecurityPolicy');
      d.spec.extAuth.failOpen = 'false';
      return d;
    },
    problem: /data\/spec\/extAuth\/failOpen must be boolean/,
  },
  {
    name: 'a SecurityPolicy metadata field that does not exist',
    doc: () => ({ ...find('SecurityPolicy'), metadata: { name: 'p', lables: {} } }),
    problem: /data\/metadata\/lables is not a field/,
  },
  {
    name: 'a top-level field a SecurityPolicy does not have',
    doc: () => ({ ...find('SecurityPolicy'), specs: {} }),
    problem: /data\/specs is not a field/,
  },
  {
    name: 'a misspelt field in a Gateway API ReferenceGrant',
    doc: () => {
      const d = find('ReferenceGrant');
      d.spec.from[0].kinds = ['SecurityPolicy'];
      return d;
    },
    problem: /data\/spec\/from\[0\]\/kinds is not a field/,
  },
  {
    name: 'a kind no validator knows',
    doc: () => ({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }),
    problem: /no validator for example\.com\/v1 Widget/,
  },
  {
    name: 'a known kind under an API version that does not serve it',
    doc: () => ({ ...find('Deployment'), apiVersion: 'apps/v1beta9' }),
    problem: /no validator for apps\/v1beta9 Deployment/,
  },
];

describe('the manifest validator', () => {
  it.each(NEGATIVE)('refuses $name', async ({ doc, problem }) => {
    const problems = await validateManifest(doc());
    expect(problems.join('\n')).toMatch(problem);
  });
});
