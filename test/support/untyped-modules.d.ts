/** oidc-provider ships no types (its @types package lags); the tests use it untyped. */
declare module 'oidc-provider';
