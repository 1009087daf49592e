/** Builds the core's PolicyConfig from the validated raw keys, with the checks that span several keys. */
import type { RawConfig } from './schema.ts';
import type { RawLogin, RawRequirement } from './policy-schema.ts';
import type { LoginRedirect, PolicyConfig, Requirement, Rule } from '../core/policy/types.ts';
import { signRuleProblems, toSignRule } from './signer-schema.ts';
import { signInLogin } from './signin.ts';
import { compileCel } from '../core/policy/cel.ts';

type RawRule = RawConfig['policies'][string];

export function toPolicyConfig(
  raw: RawConfig,
  issuers: ReadonlySet<string>,
  globalHeaders: ReadonlySet<string>,
  tokenHeaders: ReadonlySet<string>,
  problems: string[],
): PolicyConfig {
  const globalLogin = raw.login === undefined ? null : 'oidc' in raw.login ? signInLogin(raw.login.oidc) : loginOf(raw.login);
  const seenHeaders = new Set(globalHeaders);

  const ruleOf = (r: RawRule, name: string, at: string): Rule => {
    if (r.require) checkIssuers(r.require, `${at}.require`, issuers, problems);
    if (r.require) checkSingleUseNesting(r.require, `${at}.require`, problems);
    const identityHeaders = Object.entries(r.identity_headers).map(([claim, header]) => ({ claim, header: header.toLowerCase() }));
    for (const { claim, header } of identityHeaders) {
      if (globalHeaders.has(header)) problems.push(`${at}.identity_headers.${claim}: "${header}" is already a global identity header`);
      if (tokenHeaders.has(header)) problems.push(`${at}.identity_headers.${claim}: "${header}" is also a token header`);
      seenHeaders.add(header);
    }
    const sign = toSignRule(r.sign);
    problems.push(...signRuleProblems(r, raw.signer !== undefined, at));
    return {
      name,
      ...(sign ? { sign } : {}),
      ...(r.require ? { require: toRequirement(r.require) } : {}),
      anonymous: r.anonymous,
      login: r.login === false ? null : r.login === undefined ? globalLogin : loginOf(r.login),
      identityHeaders,
      ...(r.require?.single_use === true ? { singleUse: true } : {}),
      ...(r.require?.sender_constrained === true ? { senderConstrained: true } : {}),
    };
  };

  const policies = new Map<string, Rule>();
  for (const [name, p] of Object.entries(raw.policies)) policies.set(name, ruleOf(p, `policy ${name}`, `policies.${name}`));

  const routes = raw.routes.map((r, i) => {
    const at = `routes[${i}]`;
    const name = r.name ?? at;
    let rule: Rule;
    if (r.policy !== undefined) {
      const named = policies.get(r.policy);
      const inline = r.sign !== undefined || r.require !== undefined || r.login !== undefined || r.anonymous !== 'required' || Object.keys(r.identity_headers).length > 0;
      if (inline) problems.push(`${at}: give either policy or rule fields (require, anonymous, login, identity_headers, sign), not both`);
      if (!named) problems.push(`${at}.policy: no policy named ${JSON.stringify(r.policy)} (known: ${[...policies.keys()].join(', ') || 'none'})`);
      rule = named ?? ruleOf(r, name, at);
    } else {
      rule = ruleOf(r, name, at);
    }
    return { match: r.match, rule };
  });

  const payloadHeader = raw.upstream.payload_header?.toLowerCase() ?? null;
  if (payloadHeader !== null && seenHeaders.has(payloadHeader)) problems.push(`upstream.payload_header: "${payloadHeader}" is also an identity header`);
  if (payloadHeader !== null && tokenHeaders.has(payloadHeader)) problems.push(`upstream.payload_header: "${payloadHeader}" is also a token header`);

  return {
    routes,
    policies,
    defaultRule: { name: 'default', anonymous: 'required', login: globalLogin, identityHeaders: [] },
    payloadHeader,
    forwardToken: raw.upstream.forward_token,
  };
}

function loginOf(l: RawLogin): LoginRedirect {
  return { url: l.url, returnHosts: l.return_hosts };
}

/**
 * One compiler per raw requirement key. The mapped type makes it exhaustive: a key added to the schema's
 * RawRequirement without a compiler here fails the type check, so a requirement can never be dropped silently
 * (a dropped requirement would let a route allow what it should refuse).
 */
const COMPILE: { readonly [K in keyof RawRequirement]-?: (value: NonNullable<RawRequirement[K]>) => Requirement } = {
  issuers: (issuers) => ({ issuers }),
  audiences: (audiences) => ({ audiences }),
  scopes: (scopes) => ({ scopes }),
  claims: (claims) => ({ claims }),
  any: (any) => ({ any: any.map(toRequirement) }),
  all: (all) => ({ all: all.map(toRequirement) }),
  not: (not) => ({ not: toRequirement(not) }),
  when: (source) => {
    // The schema (policy-schema.ts celExpression) already refused an expression that does not compile.
    const when = compileCel(source);
    if ('problem' in when) throw new Error(`when: ${when.problem}`);
    return { when };
  },
  // Not a claim condition: ruleOf lifts it to Rule.singleUse (the authorizer's last step); nested ones are refused.
  single_use: () => ({}),
  // Likewise lifted to Rule.senderConstrained (the bind step, core/bind); nested ones are refused.
  sender_constrained: () => ({}),
};

function toRequirement(r: RawRequirement): Requirement {
  let out: Requirement = {};
  for (const key of Object.keys(COMPILE) as (keyof RawRequirement)[]) {
    const value = r[key];
    if (value !== undefined) out = { ...out, ...(COMPILE[key] as (v: unknown) => Requirement)(value) };
  }
  return out;
}

function checkIssuers(r: RawRequirement, at: string, issuers: ReadonlySet<string>, problems: string[]): void {
  r.issuers?.forEach((iss, i) => {
    if (!issuers.has(iss)) problems.push(`${at}.issuers[${i}]: ${JSON.stringify(iss)} is not a configured issuer`);
  });
  r.any?.forEach((sub, i) => checkIssuers(sub, `${at}.any[${i}]`, issuers, problems));
  r.all?.forEach((sub, i) => checkIssuers(sub, `${at}.all[${i}]`, issuers, problems));
  if (r.not) checkIssuers(r.not, `${at}.not`, issuers, problems);
}

/**
 * Single use and sender constraint are properties of the whole rule: inside any/all/not they would read as "one
 * alternative is single-use (or bound)".
 */
function checkSingleUseNesting(r: RawRequirement, at: string, problems: string[], nested = false): void {
  if (nested && r.single_use !== undefined) problems.push(`${at}.single_use: only allowed directly under require, not inside any/all/not`);
  if (nested && r.sender_constrained !== undefined) problems.push(`${at}.sender_constrained: only allowed directly under require, not inside any/all/not`);
  r.any?.forEach((sub, i) => checkSingleUseNesting(sub, `${at}.any[${i}]`, problems, true));
  r.all?.forEach((sub, i) => checkSingleUseNesting(sub, `${at}.all[${i}]`, problems, true));
  if (r.not) checkSingleUseNesting(r.not, `${at}.not`, problems, true);
}
