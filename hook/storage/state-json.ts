/**
 * raft_state.json judged exactly as Qdrant loads it: `serde_json::from_reader` into its `Persistent` struct
 * (https://github.com/qdrant/qdrant/blob/v1.13.5/lib/storage/src/content_manager/consensus/persistent.rs, the same
 * struct at v1.13.4, v1.16.3 and v1.19.0), serde_json 1.0.138 to 1.0.151 (https://github.com/serde-rs/json/blob/v1.0.140/src/de.rs).
 * What that means, rule by rule:
 *
 * - JSON whitespace is space, tab, CR and LF only; one value, then nothing but whitespace.
 * - Structs are read from an object, or from an array of their fields in declaration order (serde's visit_seq).
 *   In an object, unknown keys are skipped; a known key twice is an error ("duplicate field"), even with equal values;
 *   a missing field without a default is an error. Keys are strings (escapes allowed, a lone surrogate is not).
 * - u64 fields take a JSON integer 0..=u64::MAX; a fraction, exponent, sign or string is an error.
 * - `first_voter: null` and `apply_progress_queue: null` are None; `apply_progress_queue` is exactly [u64, u64].
 * - Peer maps (`HashMap<u64, _>`) have keys that are the digits of a u64 written directly inside the quotes (no
 *   escape, no sign, no leading zero, no space); a key given twice keeps the last value. Addresses must parse as
 *   `http::Uri` (only the values that survive, since Qdrant parses them after building the map); versions as
 *   `semver::Version` (each as it is read). See qdrant-types.ts.
 * - `cluster_metadata` values are `serde_json::Value`: strings valid UTF-8 without lone surrogates, numbers finite
 *   as f64, and serde_json's recursion limit: 128 levels counting the root object and the map itself.
 * - Unknown keys are skipped the way serde_json skips (`ignore_value`): syntax only, nesting unbounded, invalid
 *   UTF-8 and lone surrogates inside their strings accepted.
 *
 * The reader works on the bytes with an explicit stack (no recursion that grows with the input, whatever Node's
 * stack size), keeps every u64 as its decimal text (never a JS number), and builds nothing for values it only has
 * to check (cluster_metadata, unknown keys), so memory stays near the file's size.
 */
import type { RaftState } from './raft-state.js';
import { semverProblem, uriProblem } from './qdrant-types.js';

export const U64_MAX = 18446744073709551615n;
/** serde_json's default recursion limit (Deserializer::remaining_depth). */
export const SERDE_RECURSION_LIMIT = 128;

/** A fault serde_json raises while reading the text itself: the file is not JSON as Qdrant reads it. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at position ${offset}`);
  }
}

export type StateJsonOutcome = { ok: true; state: RaftState } | { ok: false; syntax: JsonSyntaxError } | { ok: false; errors: string[] };

const WS = new Uint8Array(256);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) HEX[0x41 + c] = HEX[0x61 + c] = 10 + c;

const SIMPLE_ESCAPE: Record<number, string> = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };

interface NumberToken {
  text: string;
  integer: boolean;
  negative: boolean;
}

class Reader {
  i = 0;
  /** serde_json's remaining_depth. */
  remaining = SERDE_RECURSION_LIMIT;
  readonly errors: string[] = [];

  constructor(readonly b: Uint8Array) {}

  syntax(message: string, at = this.i): never {
    throw new JsonSyntaxError(message, at);
  }

  ws(): number {
    const b = this.b;
    let i = this.i;
    while (i < b.length && WS[b[i]!]) i++;
    this.i = i;
    return i < b.length ? b[i]! : -1;
  }

  enter(): void {
    this.remaining--;
    if (this.remaining === 0) this.syntax(`recursion limit exceeded (serde_json allows ${SERDE_RECURSION_LIMIT - 1} nested arrays/objects)`);
  }

  leave(): void {
    this.remaining++;
  }

  literal(word: string): void {
    for (let k = 0; k < word.length; k++) {
      if (this.b[this.i + k] !== word.charCodeAt(k)) this.syntax(this.i + k >= this.b.length ? 'EOF while parsing a value' : 'expected ident', this.i + k);
    }
    this.i += word.length;
  }

  /** A number in serde_json's grammar, from the current byte; its text kept exactly. */
  number(): NumberToken {
    const b = this.b;
    const start = this.i;
    let i = start;
    const negative = b[i] === 0x2d;
    if (negative) i++;
    let integer = true;
    if (b[i] === 0x30) {
      i++;
      if (b[i]! >= 0x30 && b[i]! <= 0x39) this.syntax('invalid number (leading zero)', i);
    } else if (b[i]! >= 0x31 && b[i]! <= 0x39) {
      while (b[i]! >= 0x30 && b[i]! <= 0x39) i++;
    } else {
      this.syntax('invalid number', i);
    }
    if (b[i] === 0x2e) {
      integer = false;
      i++;
      if (!(b[i]! >= 0x30 && b[i]! <= 0x39)) this.syntax('invalid number (no digit after the decimal point)', i);
      while (b[i]! >= 0x30 && b[i]! <= 0x39) i++;
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      integer = false;
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      if (!(b[i]! >= 0x30 && b[i]! <= 0x39)) this.syntax('invalid number (no digit in the exponent)', i);
      while (b[i]! >= 0x30 && b[i]! <= 0x39) i++;
    }
    this.i = i;
    return { text: text(b, start, i), integer, negative };
  }

  /**
   * A string from its opening quote. `validate`: as serde_json's parse_str (a String: UTF-8, no lone surrogate);
   * otherwise as ignore_str (escapes must be well formed, nothing else checked). `keep`: return its value.
   */
  string(validate: boolean, keep: boolean): string | undefined {
    const b = this.b;
    const open = this.i;
    let i = open + 1;
    let runStart = i;
    const parts: string[] = [];
    for (;;) {
      if (i >= b.length) this.syntax('EOF while parsing a string', i);
      const c = b[i]!;
      if (c === 0x22) {
        if (validate) this.utf8(runStart, i);
        if (keep) parts.push(utf8Text(b, runStart, i));
        this.i = i + 1;
        return keep ? parts.join('') : undefined;
      }
      if (c < 0x20) this.syntax('control character (\\u0000-\\u001F) found while parsing a string', i);
      if (c !== 0x5c) {
        i++;
        continue;
      }
      if (validate) this.utf8(runStart, i);
      if (keep) parts.push(utf8Text(b, runStart, i));
      i++;
      const e = b[i];
      if (e === undefined) this.syntax('EOF while parsing a string', i);
      if (SIMPLE_ESCAPE[e] !== undefined) {
        if (keep) parts.push(SIMPLE_ESCAPE[e]!);
        i++;
      } else if (e === 0x75) {
        const hex = (at: number): number => {
          let n = 0;
          for (let k = 0; k < 4; k++) {
            if (at + k >= b.length) this.syntax('EOF while parsing a string', at + k);
            const h = HEX[b[at + k]!]!;
            if (h < 0) this.syntax('invalid escape (\\u needs 4 hex digits)', at + k);
            n = n * 16 + h;
          }
          return n;
        };
        const n = hex(i + 1);
        i += 5;
        if (validate && n >= 0xdc00 && n <= 0xdfff) this.syntax('lone trailing surrogate in hex escape', i);
        if (validate && n >= 0xd800 && n <= 0xdbff) {
          if (b[i] !== 0x5c || b[i + 1] !== 0x75) this.syntax('unexpected end of hex escape (a lone leading surrogate)', i);
          const n2 = hex(i + 2);
          if (n2 < 0xdc00 || n2 > 0xdfff) this.syntax('lone leading surrogate in hex escape', i + 6);
          i += 6;
          if (keep) parts.push(String.fromCharCode(n, n2));
        } else if (keep) {
          parts.push(String.fromCharCode(n));
        }
      } else {
        this.syntax('invalid escape', i);
      }
      runStart = i;
    }
  }

  /** serde_json checks a String's raw bytes with str::from_utf8. */
  utf8(from: number, to: number): void {
    const b = this.b;
    for (let i = from; i < to; ) {
      const c = b[i]!;
      if (c < 0x80) {
        i++;
        continue;
      }
      let need: number;
      let min: number;
      let cp: number;
      if (c >= 0xc2 && c <= 0xdf) [need, min, cp] = [1, 0x80, c & 0x1f];
      else if (c >= 0xe0 && c <= 0xef) [need, min, cp] = [2, 0x800, c & 0x0f];
      else if (c >= 0xf0 && c <= 0xf4) [need, min, cp] = [3, 0x10000, c & 0x07];
      else this.syntax('invalid unicode code point (not UTF-8)', i);
      for (let k = 1; k <= need; k++) {
        const d = b[i + k];
        if (d === undefined || i + k >= to || (d & 0xc0) !== 0x80) this.syntax('invalid unicode code point (not UTF-8)', i);
        cp = (cp << 6) | (d & 0x3f);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.syntax('invalid unicode code point (not UTF-8)', i);
      i += need + 1;
    }
  }

  /** `,` or the closing bracket after an element; true when the container goes on. */
  more(close: number, what: string): boolean {
    const c = this.ws();
    if (c === 0x2c) {
      this.i++;
      const n = this.ws();
      if (n === close) this.syntax('trailing comma');
      return true;
    }
    if (c === close) {
      this.i++;
      return false;
    }
    if (c === -1) this.syntax(`EOF while parsing ${what}`);
    return this.syntax(`expected \`,\` or \`${String.fromCharCode(close)}\``);
  }

  /** After `{` or `,` in an object: a key string and its colon. */
  keyStart(): void {
    const c = this.ws();
    if (c === -1) this.syntax('EOF while parsing an object');
    if (c !== 0x22) this.syntax('key must be a string');
  }

  colon(): void {
    const c = this.ws();
    if (c !== 0x3a) this.syntax(c === -1 ? 'EOF while parsing an object' : 'expected `:`');
    this.i++;
  }

  /** Skips one value as serde_json's ignore_value does (unknown keys): syntax only, nesting unbounded. */
  skipIgnored(): string {
    return this.walk(false);
  }

  /** Checks one `serde_json::Value` (cluster_metadata): Strings valid, numbers finite, the recursion budget spent. */
  checkValue(): void {
    this.walk(true);
  }

  /**
   * One JSON value with an explicit stack. `value`: serde_json::Value rules (each nested container spends the
   * recursion budget, strings are Strings, numbers finite); otherwise ignore_value rules. Returns a short
   * description of the value, for messages.
   */
  private walk(value: boolean): string {
    const stack: number[] = [];
    let count = 0;
    for (;;) {
      const c = this.ws();
      if (c === 0x5b || c === 0x7b) {
        if (value) this.enter();
        this.i++;
        if (stack.length === 1) count++;
        const close = c === 0x5b ? 0x5d : 0x7d;
        if (this.ws() !== close) {
          stack.push(c);
          if (c === 0x7b) this.objectKey(value);
          continue;
        }
        this.i++;
        if (value) this.leave();
        if (stack.length === 0) return c === 0x5b ? 'array of 0' : 'object';
      } else {
        const d = this.scalar(c, value);
        if (stack.length === 0) return d;
        if (stack.length === 1) count++;
      }
      // After an element: a comma and the next element, or closing brackets.
      for (;;) {
        const top = stack[stack.length - 1]!;
        if (this.more(top === 0x5b ? 0x5d : 0x7d, top === 0x5b ? 'a list' : 'an object')) {
          if (top === 0x7b) this.objectKey(value);
          break;
        }
        stack.pop();
        if (value) this.leave();
        if (stack.length === 0) return top === 0x5b ? `array of ${count}` : 'object';
      }
    }
  }

  private objectKey(value: boolean): void {
    this.keyStart();
    this.string(value, false);
    this.colon();
  }

  private scalar(c: number, value: boolean): string {
    switch (c) {
      case -1:
        return this.syntax('EOF while parsing a value');
      case 0x6e:
        this.literal('null');
        return 'null';
      case 0x74:
        this.literal('true');
        return 'boolean true';
      case 0x66:
        this.literal('false');
        return 'boolean false';
      case 0x22: {
        const start = this.i;
        this.string(value, false);
        const len = this.i - start - 2;
        return `string ${quoteShort(text(this.b, start + 1, start + 1 + Math.min(len, 40)), len > 40)}`;
      }
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          const at = this.i;
          const n = this.number();
          if (value && (!n.integer || n.text.length > 15) && !Number.isFinite(Number(n.text))) {
            this.syntax(`number out of range (${n.text.slice(0, 40)})`, at);
          }
          return `number ${n.text}`;
        }
        return this.syntax('expected value');
    }
  }

  /** Records a type error at `path` and skips the offending value; returns undefined for the caller. */
  mismatch(path: string, expected: string): undefined {
    const found = this.skipIgnored();
    this.errors.push(`${path}: expected ${expected}, found ${found}`);
    return undefined;
  }

  u64(path: string): string | undefined {
    const c = this.ws();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const n = this.number();
      const problem = n.negative ? 'is negative' : !n.integer ? 'is not an integer (fraction or exponent)' : BigInt(n.text) > U64_MAX ? `exceeds u64::MAX ${U64_MAX}` : undefined;
      if (problem) {
        this.errors.push(`${path}: expected an unsigned 64-bit integer, found number ${n.text}, which ${problem}`);
        return undefined;
      }
      return n.text;
    }
    return this.mismatch(path, 'an unsigned 64-bit integer (JSON number)');
  }

  bool(path: string): boolean | undefined {
    const c = this.ws();
    if (c === 0x74) {
      this.literal('true');
      return true;
    }
    if (c === 0x66) {
      this.literal('false');
      return false;
    }
    return this.mismatch(path, 'a boolean');
  }

  str(path: string): string | undefined {
    if (this.ws() === 0x22) return this.string(true, true);
    return this.mismatch(path, 'a string');
  }

  u64Array(path: string): string[] | undefined {
    if (this.ws() !== 0x5b) return this.mismatch(path, 'an array of u64 peer ids');
    this.enter();
    this.i++;
    const out: string[] = [];
    if (this.ws() === 0x5d) this.i++;
    else {
      let k = 0;
      do {
        const id = this.u64(`${path}[${k++}]`);
        if (id !== undefined) out.push(id);
      } while (this.more(0x5d, 'a list'));
    }
    this.leave();
    return out;
  }

  /**
   * A struct, from an object or from an array of its fields in order. Each field reader consumes its value.
   * Returns the fields read (missing ones absent); errors for duplicates and missing required fields recorded.
   */
  struct(path: string, what: string, fields: Field[], unknown?: string[]): Map<string, unknown> | undefined {
    const c = this.ws();
    const got = new Map<string, unknown>();
    const at = (name: string) => (path === '(root)' ? name : `${path}.${name}`);
    if (c === 0x7b) {
      this.enter();
      this.i++;
      if (this.ws() === 0x7d) this.i++;
      else {
        const seen = new Set<string>();
        do {
          this.keyStart();
          const key = this.string(true, true)!;
          this.colon();
          const field = fields.find((f) => f.name === key);
          if (!field) {
            unknown?.push(key);
            this.skipIgnored();
          } else if (seen.has(key)) {
            this.errors.push(`${at(key)}: duplicate field \`${key}\` (serde refuses a field given twice, even with the same value)`);
            this.skipIgnored();
          } else {
            seen.add(key);
            const v = field.read(at(key));
            if (v !== undefined) got.set(key, v);
          }
        } while (this.more(0x7d, 'an object'));
      }
      this.leave();
      for (const f of fields) {
        if (f.required && !got.has(f.name) && !this.errors.some((e) => e.startsWith(`${at(f.name)}:`) || e.startsWith(`${at(f.name)}.`) || e.startsWith(`${at(f.name)}[`))) {
          this.errors.push(`${at(f.name)}: expected ${f.expected}, found nothing (key missing)`);
        }
      }
      return got;
    }
    if (c === 0x5b) {
      // serde's visit_seq: the fields in declaration order; a missing one takes its default or is an error.
      this.enter();
      this.i++;
      let ended = this.ws() === 0x5d;
      if (ended) this.i++;
      for (const [k, f] of fields.entries()) {
        if (ended) {
          if (f.required) {
            this.errors.push(`${path}: expected ${what} with ${fields.length} elements, found an array of ${k} (serde reads a struct from an array of its fields)`);
            break;
          }
          continue;
        }
        const v = f.read(at(f.name));
        if (v !== undefined) got.set(f.name, v);
        const n = this.ws();
        if (n === 0x5d) {
          this.i++;
          ended = true;
        } else if (n === 0x2c) {
          this.i++;
          if (this.ws() === 0x5d) this.syntax('trailing comma');
          if (k === fields.length - 1) this.syntax(`trailing characters (more elements than the ${fields.length} fields of ${path})`);
        } else {
          this.syntax(n === -1 ? 'EOF while parsing a list' : 'expected `,` or `]`');
        }
      }
      this.leave();
      return got;
    }
    return this.mismatch(path, what);
  }

  /** HashMap<u64, T>: keys are u64 digits written directly inside the quotes; a repeated key keeps the last value. */
  peerMap<T>(path: string, each: (p: string) => T | undefined): Record<string, T | undefined> | undefined {
    if (this.ws() !== 0x7b) return this.mismatch(path, 'an object');
    this.enter();
    this.i++;
    // A plain dictionary built once (no Map then copy): a state may carry many peers.
    const out: Record<string, T | undefined> = Object.create(null) as Record<string, T | undefined>;
    if (this.ws() === 0x7d) this.i++;
    else {
      do {
        this.keyStart();
        const id = this.peerKey(path);
        this.colon();
        const v = each(`${path}.${id ?? '?'}`);
        if (id !== undefined) out[id] = v; // a repeated key keeps the last value, as a HashMap does
      } while (this.more(0x7d, 'an object'));
    }
    this.leave();
    return out;
  }

  private peerKey(path: string): string | undefined {
    const b = this.b;
    const open = this.i;
    const c = b[open + 1];
    const bad = (why: string) => {
      this.i = open;
      const start = this.i;
      this.string(false, false);
      const key = text(b, start + 1, this.i - 1);
      this.errors.push(`${path}: expected map keys that are u64 peer ids, found key ${quoteShort(key, false)}, which ${why}`);
      return undefined;
    };
    if (c === undefined || !(c === 0x2d || (c >= 0x30 && c <= 0x39))) return bad('does not start with a digit (serde reads the number directly inside the quotes; escapes and spaces are refused)');
    this.i = open + 1;
    let n: NumberToken;
    try {
      n = this.number();
    } catch (err) {
      if (err instanceof JsonSyntaxError) return bad('is not a JSON number');
      throw err;
    }
    if (n.negative) return bad('is negative');
    if (!n.integer) return bad('is not an integer');
    if (BigInt(n.text) > U64_MAX) return bad(`exceeds u64::MAX ${U64_MAX}`);
    if (b[this.i] !== 0x22) return bad('has more than the number inside the quotes');
    this.i++;
    return n.text;
  }

  /** HashMap<String, Value>: the keys; each value checked as a serde_json::Value. */
  valueMap(path: string): string[] | undefined {
    if (this.ws() !== 0x7b) return this.mismatch(path, 'an object');
    this.enter();
    this.i++;
    const keys = new Set<string>();
    if (this.ws() === 0x7d) this.i++;
    else {
      do {
        this.keyStart();
        keys.add(this.string(true, true)!);
        this.colon();
        this.checkValue();
      } while (this.more(0x7d, 'an object'));
    }
    this.leave();
    return [...keys];
  }
}

interface Field {
  name: string;
  required: boolean;
  /** For the "key missing" message. */
  expected: string;
  read(path: string): unknown;
}

/** The bytes as text (the caller has checked them as UTF-8 where serde would). */
function utf8Text(b: Uint8Array, from: number, to: number): string {
  return (b instanceof Buffer ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toString('utf8', from, Math.max(from, to));
}

function text(b: Uint8Array, from: number, to: number): string {
  return utf8Text(b, from, to);
}

function quoteShort(s: string, cut: boolean): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + '...' : cut ? s + '...' : s);
}

const U64_TEXT = 'an unsigned 64-bit integer (JSON number)';

/** Reads raft_state.json bytes into a RaftState the way Qdrant's loader does, or says why Qdrant would not load it. */
export function deserializeStateJson(bytes: Uint8Array): StateJsonOutcome {
  const r = new Reader(bytes);
  const unknown: string[] = [];
  const versions = new Map<string, string>();
  const metas = new Map<string, { version: string }>();
  let fields: Map<string, unknown> | undefined;
  try {
    const hard = (p: string) =>
      r.struct(p, 'an object', [
        { name: 'term', required: true, expected: U64_TEXT, read: (q) => r.u64(q) },
        { name: 'vote', required: true, expected: U64_TEXT, read: (q) => r.u64(q) },
        { name: 'commit', required: true, expected: U64_TEXT, read: (q) => r.u64(q) },
      ]);
    const conf = (p: string) =>
      r.struct(p, 'an object', [
        { name: 'voters', required: true, expected: 'an array of u64 peer ids', read: (q) => r.u64Array(q) },
        { name: 'learners', required: true, expected: 'an array of u64 peer ids', read: (q) => r.u64Array(q) },
        { name: 'voters_outgoing', required: true, expected: 'an array of u64 peer ids', read: (q) => r.u64Array(q) },
        { name: 'learners_next', required: true, expected: 'an array of u64 peer ids', read: (q) => r.u64Array(q) },
        { name: 'auto_leave', required: true, expected: 'a boolean', read: (q) => r.bool(q) },
      ]);
    const applyQueue = (p: string) => {
      const c = r.ws();
      if (c === 0x6e) {
        r.literal('null');
        return null;
      }
      if (c !== 0x5b) return r.mismatch(p, 'null or a pair [current, last] of u64');
      const start = r.i;
      r.enter();
      r.i++;
      const vals: (string | undefined)[] = [];
      if (r.ws() === 0x5d) r.i++;
      else {
        do {
          if (vals.length === 2) {
            r.i = start;
            r.leave();
            return r.mismatch(p, 'null or a pair [current, last] of u64');
          }
          vals.push(r.u64(`${p}[${vals.length}]`));
        } while (r.more(0x5d, 'a list'));
      }
      r.leave();
      if (vals.length !== 2) {
        r.errors.push(`${p}: expected null or a pair [current, last] of u64, found array of ${vals.length}`);
        return undefined;
      }
      return vals[0] !== undefined && vals[1] !== undefined ? { current: vals[0], last: vals[1] } : undefined;
    };
    fields = r.struct(
      '(root)',
      'an object',
      [
        {
          name: 'state',
          required: true,
          expected: 'an object',
          read: (p) =>
            r.struct(p, 'an object', [
              { name: 'hard_state', required: true, expected: 'an object', read: hard },
              { name: 'conf_state', required: true, expected: 'an object', read: conf },
            ]),
        },
        {
          name: 'latest_snapshot_meta',
          required: false,
          expected: 'an object',
          read: (p) =>
            r.struct(p, 'an object', [
              { name: 'term', required: true, expected: U64_TEXT, read: (q) => r.u64(q) },
              { name: 'index', required: true, expected: U64_TEXT, read: (q) => r.u64(q) },
            ]),
        },
        { name: 'apply_progress_queue', required: false, expected: 'null or a pair', read: applyQueue },
        {
          name: 'first_voter',
          required: false,
          expected: U64_TEXT,
          read: (p) => {
            if (r.ws() === 0x6e) {
              r.literal('null');
              return null;
            }
            return r.u64(p);
          },
        },
        {
          name: 'peer_address_by_id',
          required: true,
          expected: 'an object',
          read: (p) => {
            const m = r.peerMap(p, (q) => r.str(q));
            if (!m) return undefined;
            // Qdrant parses the addresses after the map is built: only the surviving values count.
            for (const id in m) {
              const uri = m[id];
              const problem = uri === undefined ? undefined : uriProblem(uri);
              if (problem) r.errors.push(`${p}.${id}: expected a URI (http::Uri), found string ${quoteShort(uri!, false)}: ${problem}`);
            }
            return m;
          },
        },
        {
          name: 'peer_metadata_by_id',
          required: false,
          expected: 'an object',
          read: (p) =>
            r.peerMap(p, (q) => {
              const s = r.struct(q, 'an object', [
                {
                  name: 'version',
                  required: true,
                  expected: 'a string',
                  read: (v) => {
                    const text = r.str(v);
                    if (text === undefined) return undefined;
                    // Every peer usually has one of a few versions: keep one string (and one verdict) per distinct text.
                    const known = versions.get(text);
                    if (known) return known;
                    const problem = semverProblem(text);
                    if (problem) {
                      r.errors.push(`${v}: expected a semantic version (semver::Version), found string ${quoteShort(text, false)}: ${problem}`);
                      return undefined;
                    }
                    if (versions.size < 1000) versions.set(text, text);
                    return text;
                  },
                },
              ]);
              const version = s?.get('version') as string | undefined;
              if (version === undefined) return undefined;
              let meta = metas.get(version);
              if (!meta) {
                meta = Object.freeze({ version });
                if (metas.size < 1000) metas.set(version, meta);
              }
              return meta;
            }),
        },
        { name: 'cluster_metadata', required: false, expected: 'an object', read: (p) => r.valueMap(p) },
        { name: 'this_peer_id', required: true, expected: U64_TEXT, read: (p) => r.u64(p) },
      ],
      unknown,
    );
    if (r.ws() !== -1) r.syntax('trailing characters');
  } catch (err) {
    if (err instanceof JsonSyntaxError) return { ok: false, syntax: err };
    throw err;
  }
  if (r.errors.length > 0 || !fields) return { ok: false, errors: r.errors.length > 0 ? r.errors : ['(root): expected an object'] };

  const st = fields.get('state') as Map<string, unknown>;
  const hs = st.get('hard_state') as Map<string, string>;
  const cs = st.get('conf_state') as Map<string, unknown>;
  const snap = fields.get('latest_snapshot_meta') as Map<string, string> | undefined;
  const apq = fields.get('apply_progress_queue') as RaftState['applyProgressQueue'] | undefined;
  const fv = fields.get('first_voter') as string | null | undefined;
  const addresses = fields.get('peer_address_by_id') as Record<string, string>;
  const metadata = fields.get('peer_metadata_by_id') as Record<string, { version: string }> | undefined;
  const clusterMetadataKeys = fields.get('cluster_metadata') as string[] | undefined;
  return {
    ok: true,
    state: {
      format: 'json',
      hardState: { term: hs.get('term')!, vote: hs.get('vote')!, commit: hs.get('commit')! },
      confState: {
        voters: cs.get('voters') as string[],
        learners: cs.get('learners') as string[],
        votersOutgoing: cs.get('voters_outgoing') as string[],
        learnersNext: cs.get('learners_next') as string[],
        autoLeave: cs.get('auto_leave') as boolean,
      },
      latestSnapshotMeta: snap ? { term: snap.get('term')!, index: snap.get('index')! } : { term: '0', index: '0' },
      applyProgressQueue: apq ?? null,
      ...(typeof fv === 'string' ? { firstVoter: fv } : {}),
      peerAddressById: addresses,
      ...(metadata ? { peerMetadataById: metadata } : {}),
      ...(clusterMetadataKeys ? { clusterMetadataKeys } : {}),
      thisPeerId: fields.get('this_peer_id') as string,
      unknownKeys: [...new Set(unknown)],
    },
  };
}
