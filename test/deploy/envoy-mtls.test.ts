/**
 * deploy/envoy/envoy-mtls.yaml (valid against Envoy's protos: test/deploy/envoy.test.ts checks every file there) wires
 * what certificate-bound tokens need: downstream TLS that verifies optional client certificates, the certificate in
 * every CheckRequest, and no client-sent x-forwarded-client-cert.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/dockerfile.ts';
import { envoyBootstrapProblems } from '../support/envoy-config.ts';

const config = parse(readFileSync(join(REPO_ROOT, 'deploy/envoy/envoy-mtls.yaml'), 'utf8'));
const chain = config.static_resources.listeners[0].filter_chains[0];
const hcm = chain.filters[0].typed_config;
const extAuthz = hcm.http_filters.find((f: any) => f.name === 'envoy.filters.http.ext_authz').typed_config;

describe('deploy/envoy/envoy-mtls.yaml', () => {
  it('is a valid Envoy v3 bootstrap', () => {
    expect(envoyBootstrapProblems(config)).toEqual([]);
  });

  it('sends the client certificate in every CheckRequest and removes a client-sent XFCC', () => {
    expect(extAuthz.include_peer_certificate).toBe(true);
    expect(extAuthz.failure_mode_allow).toBe(false);
    expect(hcm.forward_client_cert_details).toBe('SANITIZE');
  });

  it('terminates TLS verifying client certificates against a CA, without requiring one', () => {
    const tls = chain.transport_socket.typed_config;
    expect(tls['@type']).toBe('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
    expect(tls.require_client_certificate).toBe(false);
    expect(tls.common_tls_context.validation_context.trusted_ca.filename).toMatch(/client-ca\.pem$/);
  });

  it('removes client copies of the certificate identity header before ext_authz runs', () => {
    const mutation = hcm.http_filters.find((f: any) => f.name === 'envoy.filters.http.header_mutation').typed_config;
    expect(mutation.mutations.request_mutations).toContainEqual({ remove: 'x-client-subject' });
  });
});
