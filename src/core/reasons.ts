/**
 * Stable reason codes. They appear in deny bodies, logs, metrics, spans and `explain`; renaming one is a breaking change.
 */
export const Reasons = {
  // allows
  tokenValid: 'token_valid',
  pathExcluded: 'path_excluded',
  preflight: 'cors_preflight',
  /** Route allows anonymous requests and none was authenticated. */
  anonymous: 'anonymous',
  /** A signing rule minted a token for the outbound call (core/sign). */
  tokenSigned: 'token_signed',
  /** A verified token was exchanged for a minted internal one. */
  tokenExchanged: 'token_exchanged',
  /** The access token was refreshed with the session cookie's refresh token (login.oidc) and is valid. */
  tokenRefreshed: 'token_refreshed',
  // 401: no usable token
  tokenMissing: 'token_missing',
  tokenMalformed: 'token_malformed',
  tokenAmbiguous: 'token_ambiguous',
  tokenTooLarge: 'token_too_large',
  issuerUnknown: 'issuer_unknown',
  algorithmNotAllowed: 'algorithm_not_allowed',
  keyUnknown: 'key_unknown',
  signatureInvalid: 'signature_invalid',
  tokenExpired: 'token_expired',
  tokenNotYetValid: 'token_not_yet_valid',
  lifetimeTooLong: 'lifetime_too_long',
  audienceMismatch: 'audience_mismatch',
  claimMissing: 'claim_missing',
  claimInvalid: 'claim_invalid',
  /** Introspection (docs/introspection.md): the issuer says the token is not active (revoked, expired, unknown). */
  tokenInactive: 'token_inactive',
  // 400 / 413: the adapter could not read the authorization request itself
  /** gRPC: a CheckRequest whose framing is broken (no message, two messages, a truncated frame). */
  requestMalformed: 'request_malformed',
  /** gRPC: a CheckRequest larger than `grpc.max_request_bytes`. */
  requestTooLarge: 'request_too_large',
  /** A single-use token (issuer replay: true, or rule single_use) without a jti. */
  jtiMissing: 'jti_missing',
  /** A single-use token whose jti was already consumed (on any replica sharing the replay store). */
  tokenReplayed: 'token_replayed',
  /** x5c issuers (docs/x5c.md): the chain does not lead to a configured root, or breaks a CA rule on the way. */
  x5cUntrusted: 'x5c_untrusted',
  /** x5c issuers: a certificate of the chain is expired or not yet valid (leeway applies). */
  x5cExpired: 'x5c_expired',
  /** x5c issuers: the leaf may not sign tokens (a CA, no digitalSignature, not the configured extended key usage). */
  x5cUsage: 'x5c_usage',
  /** x5c issuers: no x5c, not standard base64 DER, too many or too large certificates, or x5c beside jwk/jku/x5u. */
  x5cMalformed: 'x5c_malformed',
  /** Sender-constrained tokens (docs/sender-constrained.md). A DPoP-bound token (cnf.jkt) came without a DPoP proof. */
  dpopProofMissing: 'dpop_proof_missing',
  /** The DPoP proof fails an RFC 9449 §4.3 check (shape, typ, alg, jwk, signature, htm, htu, iat, ath), or comes twice or without a DPoP token. */
  dpopProofInvalid: 'dpop_proof_invalid',
  /** The DPoP proof's jti was already used with this key (on any replica sharing the replay store). */
  dpopProofReplayed: 'dpop_proof_replayed',
  /** The token is not bound to the proof's key (cnf.jkt), is DPoP-bound but sent as Bearer, or is sent as DPoP but not bound. */
  dpopBindingMismatch: 'dpop_binding_mismatch',
  /** dpop.nonce: the proof lacks the current server nonce; the answer carries a fresh one in DPoP-Nonce. */
  dpopNonceRequired: 'dpop_nonce_required',
  /** The issuer (sender_constraint: required) or the rule (require.sender_constrained) takes bound tokens only, and this one has no cnf. */
  tokenNotSenderConstrained: 'token_not_sender_constrained',
  /** A certificate-bound token (cnf.x5t#S256, RFC 8705) and no readable client certificate with the request. */
  certificateMissing: 'certificate_missing',
  /** A certificate-bound token and a client certificate with another SHA-256 thumbprint. */
  certificateBindingMismatch: 'certificate_binding_mismatch',
  // 403
  /** Forward auth: the proxy did not send the original method and URI (exactly once) in the configured header family. */
  originalRequestMissing: 'original_request_missing',
  /** A valid token lacks a scope the route requires (RFC 6750 insufficient_scope). */
  scopeMissing: 'scope_missing',
  /** A valid token fails another route requirement (claim value, issuer, audience). */
  requirementNotMet: 'requirement_not_met',
  /** The path cannot be normalized unambiguously and routes depend on paths. */
  pathAmbiguous: 'path_ambiguous',
  /** Envoy named a policy (context_extensions) that is not configured. */
  policyUnknown: 'policy_unknown',
  /** A signing rule refuses a request that already carries the header it would set (signer.replace_existing). */
  authorizationPresent: 'authorization_present',
  /** The destination of an outbound call is not a valid scheme://host[:port]. */
  destinationInvalid: 'destination_invalid',
  /** The audience is outside signer.allowed_audiences. */
  audienceNotAllowed: 'audience_not_allowed',
  // 503
  /** No signing key can sign now (none active yet, or the key directory went bad and its keys retired). */
  signingUnavailable: 'signing_unavailable',
  keysUnavailable: 'keys_unavailable',
  /** The introspection endpoint is unreachable, slow, failing, answers garbage or refuses our client credentials. */
  introspectionUnavailable: 'introspection_unavailable',
  /** The replay store failed (down, past its timeout, an error) and replay.on_store_error is deny. */
  replayStoreUnavailable: 'replay_store_unavailable',
  /** Portcullis could not decide (a bug). Still a deny: Envoy's failure_mode_allow must never turn it into an allow. */
  internalError: 'internal_error',
} as const;

export type ReasonCode = (typeof Reasons)[keyof typeof Reasons];

/** The reasons an allow carries; every other reason is a deny's. */
export type AllowReason = (typeof Reasons)['tokenValid' | 'pathExcluded' | 'preflight' | 'anonymous' | 'tokenSigned' | 'tokenExchanged' | 'tokenRefreshed'];
export type DenyReason = Exclude<ReasonCode, AllowReason>;

/**
 * Reasons of the browser sign-in endpoints (login.oidc: /oauth2/start, the callback, /oauth2/sign_out). They answer
 * those endpoints, not authorization requests, so they are not decision reasons.
 */
export const SignInReasons = {
  /** A bug while answering a sign-in endpoint (the same code as the decision's). */
  internalError: Reasons.internalError,
  signinStarted: 'signin_started',
  signinComplete: 'signin_complete',
  signedOut: 'signed_out',
  /** The callback has no state, or the browser holds no sign-in cookie for it (CSRF, another browser, replay). */
  signinStateMissing: 'signin_state_missing',
  /** The sign-in cookie is tampered, expired, sealed with an unknown key, or for another state. */
  signinStateInvalid: 'signin_state_invalid',
  /** The provider answered an error, or the code exchange or ID token validation failed. */
  signinFailed: 'signin_failed',
  /** Sign-in over plain http while cookies are Secure (a downgrade). */
  signinInsecure: 'signin_insecure',
  /** The request's host may not sign in (not in return_hosts, or outside cookie.domain). */
  signinHostNotAllowed: 'signin_host_not_allowed',
  /** The provider's access token is not one our verifier accepts (configuration problem; no cookie is set). */
  signinTokenRejected: 'signin_token_rejected',
  /** The provider cannot be reached (discovery or token endpoint). */
  signinUnavailable: 'signin_unavailable',
} as const;

export type SignInReason = (typeof SignInReasons)[keyof typeof SignInReasons];
