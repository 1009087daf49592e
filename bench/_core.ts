// in-process: Portcullis core vs bare jose jwtVerify on unique tokens, 64 in flight; CPU µs per token
import { SignJWT, jwtVerify, createLocalJWKSet, importPKCS8 } from 'jose';
import { makeKeys, ISSUER, AUDIENCE, ALGS } from './fixtures.ts';
import { testConfig, startCore, request } from '../test/support/core.ts';
const keys = await makeKeys();
const jwks = { keys: ALGS.map((a) => keys[a].jwk) };
const now = Math.floor(Date.now() / 1000);
const core = await startCore(testConfig({}, { issuer: ISSUER, audiences: [AUDIENCE], algorithms: [...ALGS], jwks }), () => Date.now());
const local = createLocalJWKSet(jwks as any);
for (const alg of (process.argv[2] ? [process.argv[2]] : ALGS) as typeof ALGS[number][]) {
  const priv = await importPKCS8(keys[alg].privatePem, alg);
  const mk = async (n: number) => Promise.all(Array.from({ length: n }, (_, i) => new SignJWT({ sub: 'u' + i, scope: 'read' }).setProtectedHeader({ alg, kid: keys[alg].jwk.kid as string }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt(now).setExpirationTime(now + 3600).sign(priv)));
  const N = 6000;
  for (let round = 0; round < 2; round++) {
    for (const who of (process.env.WHO ? [process.env.WHO] : ['jose', 'portcullis']) as ('jose' | 'portcullis')[]) {
      const tokens = await mk(N);
      const c0 = process.cpuUsage(); const t0 = performance.now();
      let i = 0; let ok = 0;
      const worker = async () => { while (i < tokens.length) { const t = tokens[i++]!;
        if (who === 'jose') { try { await jwtVerify(t, local, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] }); ok++; } catch {} }
        else { const d = await core.authorizer.check(request({ headers: { authorization: `Bearer ${t}` } })); if (d.kind === 'allow') ok++; } } };
      await Promise.all(Array.from({ length: 64 }, worker));
      const c = process.cpuUsage(c0); const wall = performance.now() - t0;
      console.log(`${alg} ${who.padEnd(10)} ok ${ok}/${N}: ${(wall * 1000 / N).toFixed(1)} µs wall/token, ${((c.user + c.system) / N).toFixed(1)} µs CPU/token`);
    }
  }
}
process.exit(0);
