// Chooses the CEL library by measurement (docs/cel.md records the figures): CEL conformance suites for the parts
// Portcullis uses, and the per-call cost of a typical `when` expression, for @bufbuild/cel and @marcbachmann/cel-js.
// Plain .mjs (not type-checked): @bufbuild/cel is not a dependency. Run it where both are installed, e.g.
//   mkdir /tmp/celcmp && cd /tmp/celcmp && npm init -y && \
//   npm install @bufbuild/cel @bufbuild/cel-spec @bufbuild/protobuf @marcbachmann/cel-js && \
//   node "$REPO/bench/cel-compare.mjs"
// (or `npm install --no-save` them in the repository; node_modules is shared, so never remove packages).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// Resolve from the working directory, so the script runs from a scratch install as well as from the repository.
const here = pathToFileURL(`${process.cwd()}/`).href;
const load = (name) => import(createRequire(here).resolve(name)).catch(() => import(import.meta.resolve(name, here)));
const { tests } = await load('@bufbuild/cel-spec/testdata/conformance.js');
const buf = await load('@bufbuild/cel');
const mb = await load('@marcbachmann/cel-js');
const { UnsignedInt } = await load('@marcbachmann/cel-js/evaluator');
const SUITES = (process.argv[2] ?? 'basic,comparisons,conversions,fields,lists,logic,macros,macros2,parse,plumbing,string,integer_math,fp_math').split(',');
const PROTO = /TestAllTypes|google\.protobuf|cel\.expr|type\(|\.Value|Duration|Timestamp|duration\(|timestamp\(/;

const b64 = (s) => Uint8Array.from(Buffer.from(s, 'base64'));
function fromValue(v, lib) {
  if ('int64Value' in v) return BigInt(v.int64Value);
  if ('uint64Value' in v) return lib === 'buf' ? buf.celUint(BigInt(v.uint64Value)) : new UnsignedInt(BigInt(v.uint64Value));
  if ('doubleValue' in v) return typeof v.doubleValue === 'string' ? Number(v.doubleValue) : v.doubleValue;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('bytesValue' in v) return b64(v.bytesValue);
  if ('nullValue' in v) return null;
  if ('listValue' in v) return (v.listValue.values ?? []).map((x) => fromValue(x, lib));
  if ('mapValue' in v) return new Map((v.mapValue.entries ?? []).map((e) => [fromValue(e.key, lib), fromValue(e.value, lib)]));
  throw new Error('unsupported value ' + Object.keys(v));
}
// A canonical text for comparing results: type-tagged.
function canon(x) {
  if (x === null) return 'null';
  if (typeof x === 'bigint') return `int(${x})`;
  if (typeof x === 'number') return Number.isNaN(x) ? 'double(NaN)' : `double(${Object.is(x, -0) ? '0' : x})`;
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'boolean') return String(x);
  if (x instanceof Uint8Array) return `bytes(${Buffer.from(x).toString('hex')})`;
  if (x instanceof UnsignedInt || buf.isCelUint?.(x)) return `uint(${x.value ?? x.valueOf()})`;
  if (Array.isArray(x) || buf.isCelList?.(x)) return `[${[...x].map(canon).join(',')}]`;
  if (x instanceof Map || buf.isCelMap?.(x)) return `{${[...x.entries()].map(([k, v]) => `${canon(k)}:${canon(v)}`).sort().join(',')}}`;
  if (typeof x === 'object' && x.constructor === Object) return `{${Object.entries(x).map(([k, v]) => `${canon(k)}:${canon(v)}`).sort().join(',')}}`;
  return `?${x?.constructor?.name}`;
}

const run = {
  buf: (expr, bindings) => { const r = buf.run(expr, bindings); if (buf.isCelError(r)) throw r; return r; },
  mb: (expr, bindings) => mb.evaluate(expr, bindings),
};

const result = {};
for (const lib of ['buf', 'mb']) result[lib] = {};
let skipped = 0;
for (const suite of tests.suites.filter((s) => SUITES.includes(s.name))) {
  for (const sec of suite.suites ?? []) for (const t of sec.tests ?? []) {
    const o = t.original;
    const json = JSON.stringify(o);
    if (o.container || PROTO.test(json) || o.value?.objectValue || o.value?.typeValue || o.value?.enumValue || o.typedResult || o.checkOnly) { skipped++; continue; }
    for (const lib of ['buf', 'mb']) {
      const r = (result[lib][suite.name] ??= { pass: 0, fail: 0, failed: [] });
      let ok;
      try {
        const bindings = Object.fromEntries(Object.entries(o.bindings ?? {}).map(([k, v]) => [k, fromValue(v.value, lib)]));
        let got, err;
        try { got = run[lib](o.expr, bindings); } catch (e) { err = e; }
        if (o.evalError || o.anyEvalErrors) ok = err !== undefined;
        else if (err) ok = false;
        else ok = canon(got) === canon(fromValue(o.value ?? { boolValue: true }, lib));
      } catch { ok = false; }
      if (ok) r.pass++; else { r.fail++; r.failed.push(`${sec.name}/${o.name}: ${o.expr}`); }
    }
  }
}
const total = { buf: [0, 0], mb: [0, 0] };
console.log('suite'.padEnd(14), 'bufbuild/cel'.padStart(14), 'cel-js'.padStart(14));
for (const s of SUITES) {
  const b = result.buf[s], m = result.mb[s];
  if (!b) continue;
  for (const [lib, x] of [['buf', b], ['mb', m]]) { total[lib][0] += x.pass; total[lib][1] += x.pass + x.fail; }
  console.log(s.padEnd(14), `${b.pass}/${b.pass + b.fail}`.padStart(14), `${m.pass}/${m.pass + m.fail}`.padStart(14));
}
const pct = ([p, n]) => `${p}/${n} (${((100 * p) / n).toFixed(1)}%)`;
console.log('total'.padEnd(14), pct(total.buf).padStart(14), pct(total.mb).padStart(14), `(skipped ${skipped} proto/type/timestamp tests)`);
if (process.env.VERBOSE) for (const lib of ['buf', 'mb']) for (const s of SUITES) for (const f of result[lib][s]?.failed ?? []) console.log(lib, f);

// Per-call cost of the typical expression, compiled once (the way config load does it).
const EXPR = '"admin" in claims.roles && request.method == "GET"';
const claims = { sub: 'alice', roles: ['dev', 'ops', 'admin'], tenant: 'acme' };
const N = Number(process.env.N ?? 1_000_000);
function time(name, f) {
  for (let i = 0; i < N / 10; i++) f();
  const t = process.hrtime.bigint();
  let ok = 0;
  for (let i = 0; i < N; i++) if (f() === true) ok++;
  const ns = Number(process.hrtime.bigint() - t) / N;
  console.log(name.padEnd(40), `${ns.toFixed(0)} ns/eval`, ok === N ? '' : 'WRONG RESULT');
}
console.log(`\n${EXPR}, ${N} evaluations`);
const benv = buf.celEnv({ variables: { claims: buf.mapType(buf.CelScalar.STRING, buf.CelScalar.DYN), request: buf.mapType(buf.CelScalar.STRING, buf.CelScalar.DYN) } });
const bp = buf.plan(benv, buf.parse(EXPR));
time('@bufbuild/cel (plain object claims)', () => bp({ claims, request: new Map([['method', 'GET']]) }));
const bclaims = new Map(Object.entries(claims));
time('@bufbuild/cel (claims as a Map)', () => bp({ claims: bclaims, request: new Map([['method', 'GET']]) }));
class Req { constructor(m) { this.m = m; } get method() { return this.m; } }
const menv = new mb.Environment().registerType('Request', { ctor: Req, fields: { method: 'string' } }).registerVariable('claims', 'map<string, dyn>').registerVariable('request', 'Request');
const mp = menv.parse(EXPR);
mp.check();
time('@marcbachmann/cel-js (typed, lazy request)', () => mp({ claims, request: new Req('GET') }));
