/**
 * Every Cookie header shape the token finder accepts a token in (core/sources.ts), for a given token: the unit
 * tests and the transport tests run the same list, so the stripper is proven on exactly what the finder reads.
 */
export function cookieShapes(token: string): [string, Record<string, string | string[]>][] {
  const cut = Math.floor(token.length / 2);
  const [first, second] = [token.slice(0, cut), token.slice(cut)];
  return [
    ['the access_token cookie', { cookie: `a=1; access_token=${token}; b=2` }],
    ['the cookie first', { cookie: `access_token=${token}; b=2` }],
    ['the cookie alone', { cookie: `access_token=${token}` }],
    ['a comma-merged Cookie header', { cookie: `theme=dark, access_token=${token}` }],
    ['a comma without a space', { cookie: `theme=dark,access_token=${token}` }],
    ['no space after ";"', { cookie: `theme=dark;access_token=${token}` }],
    ['spaces around "="', { cookie: `theme=dark;  access_token = ${token} ` }],
    ['a quoted cookie value', { cookie: `access_token="${token}"` }],
    ['a trailing separator', { cookie: `access_token=${token};` }],
    ['two Cookie headers', { cookie: ['theme=dark', `access_token=${token}`] }],
    ['chunked cookies', { cookie: `a=1; access_token_0=${first}; access_token_1=${second}` }],
    ['chunks out of order and comma-merged', { cookie: `access_token_1=${second}, a=1, access_token_0=${first}` }],
    ['chunks over two Cookie headers', { cookie: [`access_token_0=${first}`, `access_token_1=${second}; z=9`] }],
  ];
}
