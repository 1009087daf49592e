/**
 * Every Envoy config under deploy/ is valid against Envoy's own protos, strictly (test/support/envoy-config.ts):
 * all of deploy/envoy/, and any other YAML/JSON under deploy/ shaped like an Envoy bootstrap. No envoy binary runs
 * here; the negative rows prove the check catches what `envoy --mode validate` would refuse for the same reason.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { envoyBootstrapProblems } from '../support/envoy-config.ts';
import { REPO_ROOT } from '../support/dockerfile.ts';

const DEPLOY = join(REPO_ROOT, 'deploy');
const BOOTSTRAP_KEYS = ['static_resources', 'dynamic_resources', 'staticResources', 'dynamicResources'];

/** deploy/envoy/* always; elsewhere under deploy/ (Kubernetes manifests aside) whatever has a bootstrap's top level. */
function envoyConfigs(): { file: string; config: any }[] {
  const files = (readdirSync(DEPLOY, { recursive: true }) as string[]).filter((f) => /\.(ya?ml|json)$/.test(f) && !f.startsWith('kubernetes/')).sort();
  return files.flatMap((file) => {
    const text = readFileSync(join(DEPLOY, file), 'utf8');
    let config: unknown;
    try {
      config = parse(text);
    } catch (e) {
      if (file.startsWith('envoy/')) throw e;
      return [];
    }
    const looksLikeEnvoy = config !== null && typeof config === 'object' && BOOTSTRAP_KEYS.some((k) => k in config);
    return file.startsWith('envoy/') || looksLikeEnvoy ? [{ file, config }] : [];
  });
}

const configs = envoyConfigs();
const base = (file: string) => structuredClone(configs.find((c) => c.file === file)!.config);
const hcm = (c: any) => c.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const extAuthz = (c: any) => hcm(c).http_filters.find((f: any) => f.name === 'envoy.filters.http.ext_authz').typed_config;

describe('Envoy configs under deploy/', () => {
  it('include both shipped configs (gRPC and HTTP ext_authz)', () => {
    expect(configs.map((c) => c.file)).toEqual(expect.arrayContaining(['envoy/envoy.yaml', 'envoy/envoy-http.yaml']));
  });

  it.each(configs.map((c) => [c.file, c.config] as const))('deploy/%s is a valid Envoy v3 bootstrap', (_, config) => {
    expect(envoyBootstrapProblems(config)).toEqual([]);
  });
});

const NEGATIVE: readonly { name: string; mutate: (c: any) => void; problem: string }[] = [
  {
    name: 'a misspelt field inside the ext_authz typed_config (an Any inside an Any)',
    mutate: (c) => {
      extAuthz(c).failure_mode_alow = false;
    },
    problem: 'typed_config(HttpConnectionManager).http_filters[1].typed_config(ExtAuthz).failure_mode_alow: unknown field of envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
  },
  {
    name: 'a misspelt top-level field',
    mutate: (c) => {
      c.static_resource = c.static_resources;
    },
    problem: 'bootstrap.static_resource: unknown field of envoy.config.bootstrap.v3.Bootstrap',
  },
  {
    name: 'a duration in Go syntax (250ms) where protobuf JSON wants "0.25s"',
    mutate: (c) => {
      extAuthz(c).grpc_service.timeout = '250ms';
    },
    problem: 'grpc_service.timeout: must be a duration like "0.25s", got "250ms"',
  },
  {
    name: 'a string where a bool goes',
    mutate: (c) => {
      hcm(c).normalize_path = 'yes';
    },
    problem: 'typed_config(HttpConnectionManager).normalize_path: must be true or false, got "yes"',
  },
  {
    name: 'a port number as a negative integer',
    mutate: (c) => {
      c.admin.address.socket_address.port_value = -1;
    },
    problem: 'bootstrap.admin.address.socket_address.port_value: is out of range for uint32',
  },
  {
    name: 'an enum value that does not exist',
    mutate: (c) => {
      extAuthz(c).status_on_error.code = 'ServiceUnavailabl';
    },
    problem: 'status_on_error.code: must be a StatusCode (Empty, Continue, OK, Created, Accepted, NonAuthoritativeInformation, NoContent, ResetContent, …), got "ServiceUnavailabl"',
  },
  {
    name: 'a single object where a list goes',
    mutate: (c) => {
      c.static_resources.clusters = c.static_resources.clusters[0];
    },
    problem: 'bootstrap.static_resources.clusters: must be a list',
  },
  {
    name: 'an Any whose @type names no Envoy message',
    mutate: (c) => {
      extAuthz(c)['@type'] = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuth';
    },
    problem: '"@type" type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuth names no message in Envoy\'s protos',
  },
  {
    name: 'two members of one oneof (envoy_grpc and google_grpc)',
    mutate: (c) => {
      extAuthz(c).grpc_service.google_grpc = { target_uri: '127.0.0.1:9001', stat_prefix: 'p' };
    },
    problem: 'grpc_service.google_grpc: oneof target_specifier already set by envoy_grpc',
  },
  {
    name: 'a misspelt field in a per-route typed_per_filter_config (map of Any)',
    mutate: (c) => {
      hcm(c).route_config.virtual_hosts[0].routes[0].typed_per_filter_config['envoy.filters.http.ext_authz'].disable = true;
    },
    problem: "typed_per_filter_config[envoy.filters.http.ext_authz](ExtAuthzPerRoute).disable: unknown field of envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
  },
  {
    name: 'a required oneof left empty (grpc_service without envoy_grpc or google_grpc)',
    mutate: (c) => {
      delete extAuthz(c).grpc_service.envoy_grpc;
    },
    problem: 'grpc_service: one of envoy_grpc, google_grpc is required',
  },
  {
    name: 'a required string left out (envoy_grpc without cluster_name)',
    mutate: (c) => {
      extAuthz(c).grpc_service.envoy_grpc = {};
    },
    problem: 'grpc_service.envoy_grpc.cluster_name: required (a non-empty string)',
  },
  {
    name: 'a port above 65535 (validate rule lte)',
    mutate: (c) => {
      c.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 90001;
    },
    problem: 'socket_address.port_value: must be <= 65535, got 90001',
  },
];

describe('the Envoy config check', () => {
  it.each(NEGATIVE)('refuses $name', ({ mutate, problem }) => {
    const config = base('envoy/envoy.yaml');
    mutate(config);
    expect(envoyBootstrapProblems(config).join('\n')).toContain(problem);
  });

  it('accepts lowerCamelCase JSON names as Envoy does (normalizePath), and null as an unset field', () => {
    const config = base('envoy/envoy.yaml');
    hcm(config).normalizePath = hcm(config).normalize_path;
    delete hcm(config).normalize_path;
    hcm(config).merge_slashes = null;
    expect(envoyBootstrapProblems(config)).toEqual([]);
  });
});
