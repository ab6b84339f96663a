/**
 * The two string types inside a raft state that Qdrant parses on load, judged by the same rules:
 *
 * - peer addresses are `http::Uri` (`address.parse()` in serialize_peer_addresses::deserialize,
 *   https://github.com/qdrant/qdrant/blob/v1.13.5/lib/storage/src/lib.rs), http crate 0.2.x in Qdrant 1.13 to 1.16
 *   (https://github.com/hyperium/http/blob/v0.2.12/src/uri/mod.rs, authority.rs, scheme.rs, path.rs);
 * - peer versions are `semver::Version` (PeerMetadata,
 *   https://github.com/qdrant/qdrant/blob/v1.13.5/lib/collection/src/operations/types.rs), semver 1.0
 *   (https://github.com/dtolnay/semver/blob/1.0.26/src/parse.rs).
 *
 * Qdrant 1.19 uses http 1.x, which also accepts UTF-8 beyond ASCII in the path and query of a URI; these rules
 * refuse it (a peer address with such a path has never been seen; the 1.13-1.16 rule is the stricter one).
 * Each function returns why the text is not valid, or undefined when it is.
 */

const MAX_URI_LEN = 65534;
const MAX_SCHEME_LEN = 64;
const MAX_COLONS = 8;

/** Bytes http accepts unescaped in a URI (its URI_CHARS table); everything else, `%` included, is 0 there. */
const URI_CHAR = (() => {
  const t = new Uint8Array(256);
  const allow = "!#$&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz~";
  for (const c of allow) t[c.charCodeAt(0)] = 1;
  return t;
})();

const SCHEME_CHAR = (() => {
  const t = new Uint8Array(256);
  for (const c of '+-.0123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz~') t[c.charCodeAt(0)] = 1;
  return t;
})();

function startsWithIgnoreCase(b: Uint8Array, prefix: string): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    const c = b[i]!;
    const lower = c >= 0x41 && c <= 0x5a ? c + 32 : c;
    if (lower !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

/** Length of the scheme prefix to strip (`http://` = 7), 0 when there is no scheme, or the error. */
function schemeLength(b: Uint8Array): number | string {
  if (startsWithIgnoreCase(b, 'http://')) return 7;
  if (startsWithIgnoreCase(b, 'https://')) return 8;
  if (b.length > 3) {
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c === 0x3a /* : */) {
        if (b.length < i + 3) break;
        if (b[i + 1] !== 0x2f || b[i + 2] !== 0x2f) break;
        if (i > MAX_SCHEME_LEN) return 'scheme too long';
        return i + 3;
      }
      if (!SCHEME_CHAR[c]) break;
    }
  }
  return 0;
}

/** Where the authority ends (first `/`, `?` or `#`), or the error. */
function authorityEnd(b: Uint8Array, from: number): number | string {
  let colons = 0;
  let startBracket = false;
  let endBracket = false;
  let percent = false;
  let end = b.length;
  let at = -1;
  for (let i = from; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x2f || c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
    if (!URI_CHAR[c]) {
      if (c === 0x25) {
        percent = true;
        continue;
      }
      return 'invalid uri character';
    }
    if (c === 0x3a) {
      if (colons >= MAX_COLONS) return 'invalid authority (too many colons)';
      colons++;
    } else if (c === 0x5b) {
      if (percent || startBracket) return 'invalid authority (bracket)';
      startBracket = true;
    } else if (c === 0x5d) {
      if (!startBracket || endBracket) return 'invalid authority (bracket)';
      endBracket = true;
      colons = 0;
      percent = false;
    } else if (c === 0x40) {
      at = i;
      colons = 0;
      percent = false;
    }
  }
  if (startBracket !== endBracket) return 'invalid authority (unbalanced brackets)';
  if (colons > 1) return 'invalid authority (more than one port colon)';
  if (end > from && at === end - 1) return 'invalid authority (nothing after @)';
  if (percent) return 'invalid authority (% outside the user info)';
  return end;
}

function pathAndQueryProblem(b: Uint8Array, from: number): string | undefined {
  let i = from;
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x3f) break; // ? starts the query
    if (c === 0x23) return undefined; // # : the fragment is cut off unread
    const ok =
      c === 0x21 || (c >= 0x24 && c <= 0x3b) || c === 0x3d || (c >= 0x40 && c <= 0x5f) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x7c || c === 0x7e || c === 0x22 || c === 0x7b || c === 0x7d;
    if (!ok) return 'invalid uri character in the path';
  }
  for (i++; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x23) return undefined;
    const ok = c === 0x21 || (c >= 0x24 && c <= 0x3b) || c === 0x3d || (c >= 0x3f && c <= 0x7e);
    if (!ok) return 'invalid uri character in the query';
  }
  return undefined;
}

/** Why `text` is not an `http::Uri` (as `str::parse::<Uri>()` would say), or undefined. */
export function uriProblem(text: string): string | undefined {
  const b = Buffer.from(text, 'utf8');
  if (b.length > MAX_URI_LEN) return 'uri too long';
  if (b.length === 0) return 'empty string';
  if (b.length === 1) {
    if (b[0] === 0x2f || b[0] === 0x2a) return undefined;
    const end = authorityEnd(b, 0);
    if (typeof end === 'string') return end;
    return end === 1 ? undefined : 'invalid uri character';
  }
  if (b[0] === 0x2f) return pathAndQueryProblem(b, 0);
  const scheme = schemeLength(b);
  if (typeof scheme === 'string') return scheme;
  const end = authorityEnd(b, scheme);
  if (typeof end === 'string') return end;
  if (scheme === 0) return end === b.length ? undefined : 'invalid format (a path needs a scheme)';
  if (end === scheme) return 'invalid format (no authority after the scheme)';
  return pathAndQueryProblem(b, end);
}

/** Why `text` is not a `semver::Version`, or undefined. */
export function semverProblem(text: string): string | undefined {
  if (text.length === 0) return 'empty string';
  let i = 0;
  const numeric = (what: string): string | undefined => {
    const start = i;
    let value = 0n;
    while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) {
      if (i > start && value === 0n) return `leading zero in the ${what} version number`;
      value = value * 10n + BigInt(text.charCodeAt(i) - 0x30);
      if (value > 18446744073709551615n) return `${what} version number overflows u64`;
      i++;
    }
    if (i === start) return i < text.length ? `unexpected character ${JSON.stringify(text[i])} in the ${what} version number` : `unexpected end in the ${what} version number`;
    return undefined;
  };
  const dot = (what: string): string | undefined => {
    if (text[i] === '.') {
      i++;
      return undefined;
    }
    return i < text.length ? `unexpected character ${JSON.stringify(text[i])} after the ${what} version number` : `unexpected end after the ${what} version number`;
  };
  const identifiers = (what: 'pre-release' | 'build'): string | undefined => {
    // Dot-separated, each non-empty, [0-9A-Za-z-]; a numeric pre-release identifier has no leading zero.
    const start = i;
    for (;;) {
      const seg = i;
      let nondigit = false;
      while (i < text.length && /[0-9A-Za-z-]/.test(text[i]!)) {
        if (!/[0-9]/.test(text[i]!)) nondigit = true;
        i++;
      }
      if (i === seg) return `empty ${what} identifier`;
      if (what === 'pre-release' && i - seg > 1 && !nondigit && text[seg] === '0') return 'leading zero in a pre-release identifier';
      if (text[i] !== '.') break;
      i++;
    }
    return i === start ? `empty ${what}` : undefined;
  };
  const p =
    numeric('major') ?? dot('major') ?? numeric('minor') ?? dot('minor') ?? numeric('patch');
  if (p) return p;
  if (text[i] === '-') {
    i++;
    const e = identifiers('pre-release');
    if (e) return e;
  }
  if (text[i] === '+') {
    i++;
    const e = identifiers('build');
    if (e) return e;
  }
  if (i < text.length) return `unexpected character ${JSON.stringify(text[i])}`;
  return undefined;
}
