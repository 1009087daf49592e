/**
 * deploy/kubernetes/ holds together as a deployment, and as issue 10 asks: the facts each manifest relies on in
 * another (ports, names, labels, paths) agree, the ConfigMap holds a config Portcullis accepts, and the pod is
 * built for rolling updates, hot reload and a locked-down runtime. kubernetes.test.ts checks the schemas.
 */
import { describe, expect, it } from 'vitest';
import { posix } from 'node:path';
import { parse } from 'yaml';
import { buildConfig } from '../../src/config/load.ts';
import { kubernetesManifests } from '../support/kubernetes-validate.ts';
import { readDockerfile, REPO_ROOT } from '../support/dockerfile.ts';

const all = kubernetesManifests();
/** The one `kind` named `name` (other manifests may join deploy/kubernetes/ later, e.g. a Redis for replay). */
const one = (kind: string, name = 'portcullis') => {
  const found = all.filter((m) => m.doc.kind === kind && m.doc.metadata.name === name);
  expect(found.length, `${kind} ${name}`).toBe(1);
  return found[0]!.doc;
};
const deployment = one('Deployment');
const service = one('Service');
const configMap = one('ConfigMap', 'portcullis-config');
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
const containerPort = (name: string) => container.ports.find((p: any) => p.name === name).containerPort;
const servicePort = (name: string) => service.spec.ports.find((p: any) => p.name === name);
const env = (name: string) => container.env.find((e: any) => e.name === name)?.value;
const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => deployment.spec.template.metadata.labels[k] === v);

/** The config the pods load: PORTCULLIS_CONFIG → the ConfigMap key mounted at that path. */
const configPath = env('PORTCULLIS_CONFIG');
const configMount = container.volumeMounts.find((m: any) => configPath.startsWith(`${m.mountPath}/`));
const configText: string = configMap.data[posix.relative(configMount.mountPath, configPath)];
const config = buildConfig(parse(configText), 'deploy/kubernetes/configmap.yaml', REPO_ROOT);

describe('the Deployment', () => {
  it('runs 3 replicas spread over nodes, with a rolling update that never drops below 3 ready', () => {
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    const spread = pod.topologySpreadConstraints.find((t: any) => t.topologyKey === 'kubernetes.io/hostname');
    expect(spread).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' });
    expect(selects(spread.labelSelector.matchLabels)).toBe(true);
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
  });

  it('probes readiness on /readyz and liveness on /healthz, on the port the config listens on for HTTP', () => {
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(containerPort('http')).toBe(portOf(config.listen.http));
    expect(containerPort('grpc')).toBe(portOf(config.listen.grpc));
  });

  it('gives the shutdown drain and timeout time to finish before the kubelet kills the pod', () => {
    // shutdown.drain / shutdown.timeout (issue 10 item 2), defaults 5s and 20s, unless the config sets them.
    const shutdown = (config as { shutdown?: { drain?: number; timeout?: number } }).shutdown;
    const drainMs = shutdown?.drain ?? 5_000;
    const timeoutMs = shutdown?.timeout ?? 20_000;
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs + timeoutMs);
  });

  it('runs locked down: non-root, read-only root filesystem, no capabilities, no privilege escalation, seccomp RuntimeDefault', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.securityContext.capabilities.add).toBeUndefined();
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('runs as the image user and reads the config from the path the image names', () => {
    const image = readDockerfile().stages.at(-1)!.instructions;
    expect(image.find((i) => i.keyword === 'USER')!.args).toBe(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`);
    expect(image.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ')).toContain(`PORTCULLIS_CONFIG=${configPath}`);
  });

  it('has requests and a memory limit above the verified-token cache it is configured with', () => {
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    const limitMi = Number(/^(\d+)Mi$/.exec(container.resources.limits.memory)![1]);
    expect(limitMi * 1024 * 1024).toBeGreaterThan(config.cache.maxBytes * 2);
  });

  it('mounts the ConfigMap as a directory (no subPath), so Kubernetes updates reach the reload watch', () => {
    expect(configMount.subPath).toBeUndefined();
    expect(configMount.readOnly).toBe(true);
    const volume = pod.volumes.find((v: any) => v.name === configMount.name);
    expect(volume.configMap.name).toBe(configMap.metadata.name);
    expect(volume.configMap.items).toBeUndefined();
    expect(container.volumeMounts.every((m: any) => m.subPath === undefined)).toBe(true);
  });

  it('writes only to an emptyDir at /tmp', () => {
    const tmp = container.volumeMounts.find((m: any) => m.mountPath === '/tmp');
    expect(pod.volumes.find((v: any) => v.name === tmp.name).emptyDir).toBeDefined();
    expect(container.volumeMounts.filter((m: any) => !m.readOnly).map((m: any) => m.mountPath)).toEqual(['/tmp']);
  });
});

describe('the ConfigMap', () => {
  it('holds a config Portcullis accepts, listening on all interfaces (the defaults are loopback)', () => {
    expect(config.listen.grpc).toBe('0.0.0.0:9001');
    expect(config.listen.http).toBe('0.0.0.0:9002');
  });
});

describe('the Service, autoscaler and disruption budget', () => {
  it('exposes gRPC with appProtocol grpc and HTTP, on the container ports, selecting the pods', () => {
    expect(servicePort('grpc')).toMatchObject({ targetPort: 'grpc', appProtocol: 'grpc', protocol: 'TCP' });
    expect(servicePort('http')).toMatchObject({ targetPort: 'http', protocol: 'TCP' });
    expect(selects(service.spec.selector)).toBe(true);
    expect(service.metadata.namespace).toBe(deployment.metadata.namespace);
  });

  it('scales the Deployment on CPU and never below its 3 replicas', () => {
    const hpa = one('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(deployment.spec.replicas);
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
  });

  it('lets at most one replica go at a time, for the same pods', () => {
    const pdb = one('PodDisruptionBudget');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(selects(pdb.spec.selector.matchLabels)).toBe(true);
  });
});

describe('the mesh wiring', () => {
  const fqdn = `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;

  it('Istio: an envoyExtAuthzGrpc extension provider at the Service gRPC port, failing closed, used by a CUSTOM policy', () => {
    const provider = one('IstioOperator', 'portcullis-ext-authz').spec.meshConfig.extensionProviders[0];
    expect(provider.envoyExtAuthzGrpc).toMatchObject({ service: fqdn, port: servicePort('grpc').port, failOpen: false });
    const policy = one('AuthorizationPolicy');
    expect(policy.spec.action).toBe('CUSTOM');
    expect(policy.spec.provider.name).toBe(provider.name);
    expect(policy.spec.selector).toBeDefined(); // never mesh-wide in the root namespace (Portcullis would check itself)
  });

  it('Envoy Gateway: extAuth over gRPC at the Service gRPC port, failing closed, with the ReferenceGrant that allows it', () => {
    const policy = one('SecurityPolicy');
    expect(policy.spec.extAuth.failOpen).toBe(false);
    expect(policy.spec.extAuth.grpc.backendRefs).toEqual([
      { group: '', kind: 'Service', name: service.metadata.name, namespace: service.metadata.namespace, port: servicePort('grpc').port },
    ]);
    const grant = one('ReferenceGrant', 'envoy-gateway-ext-auth');
    expect(grant.metadata.namespace).toBe(service.metadata.namespace);
    expect(grant.spec.from).toContainEqual({ group: 'gateway.envoyproxy.io', kind: 'SecurityPolicy', namespace: policy.metadata.namespace });
    expect(grant.spec.to).toContainEqual({ group: '', kind: 'Service', name: service.metadata.name });
  });
});
