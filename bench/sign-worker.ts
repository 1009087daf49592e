/**
 * Worker thread: signs `count` distinct, valid compact JWS tokens with node:crypto and posts them back in chunks.
 * Each token differs in sub, jti and the signature, so no cache keyed on any part of a token can serve it.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import type { SignJob } from './fixtures.ts'; // type-only: erased, so the worker does not load the protos

const job = workerData as SignJob;
const key = createPrivateKey(job.privatePem);
const header = Buffer.from(JSON.stringify({ alg: job.alg, kid: job.kid, typ: 'JWT' })).toString('base64url');
const digest = job.alg === 'EdDSA' ? null : 'sha256';
const keyArg = job.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;

const CHUNK = 20_000;
let batch: string[] = [];
for (let i = job.from; i < job.from + job.count; i++) {
  const payload = {
    iss: job.issuer,
    aud: job.audience,
    sub: `user-${job.tag}-${i}`,
    jti: `${job.tag}-${i}-${job.nowS}`,
    iat: job.nowS,
    exp: job.nowS + job.ttlS,
    scope: 'orders:read orders:write',
    // A list claim for the CEL row (bench/scenarios/cel.ts: `"orders" in claims.roles`).
    roles: ['reader', 'orders'],
    email: `user${i}@example.com`,
  };
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const sig = sign(digest, Buffer.from(input), keyArg).toString('base64url');
  batch.push(`${input}.${sig}`);
  if (batch.length === CHUNK) {
    parentPort!.postMessage({ tokens: batch });
    batch = [];
  }
}
if (batch.length > 0) parentPort!.postMessage({ tokens: batch });
