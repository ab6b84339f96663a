/**
 * Lossless parsing and precise validation of Qdrant's raft state (docs/qdrant-facts.md#raft-state-file).
 *
 * Peer ids are u64 and clusters created before v1.2 have ids above 2^53 (and `first_voter` may be u64::MAX), so
 * no number ever goes through a JS number. raft_state.json is read by state-json.ts exactly as Qdrant's loader
 * (serde_json into Persistent) reads it. The legacy CBOR `raft_state` (<= 1.3) is decoded with cbor-x into a
 * lossless tree (lossless-json's number type) and checked by the Validator below. Every format generation is
 * accepted (1.4-1.7 without `peer_metadata_by_id`, 1.8+, `cluster_metadata` 1.11+, `first_voter` 1.12.2+).
 */
import { parse, stringify } from 'lossless-json';
import { Decoder } from 'cbor-x';
import type { StateProblem, StateSummary } from '../policy/volume.js';
import { deserializeStateJson } from './state-json.js';

export const U64_MAX = 18446744073709551615n;

/** A JSON number exactly as written; validation decides what it may be. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

/** Parses JSON keeping every number as its source text (never a JS number). Throws SyntaxError. */
export function parseLossless(text: string): unknown {
  return parse(text, undefined, (s: string) => new JsonNumber(s));
}

/** Inverse of parseLossless: numbers come back byte for byte. */
export function stringifyLossless(value: unknown, indent?: number): string {
  return (
    stringify(value, undefined, indent, [
      { test: (v: unknown) => v instanceof JsonNumber, stringify: (v: unknown) => (v as JsonNumber).text },
    ]) ?? ''
  );
}

export interface RaftState {
  format: 'json' | 'cbor-legacy';
  hardState: { term: string; vote: string; commit: string };
  confState: {
    voters: string[];
    learners: string[];
    votersOutgoing: string[];
    learnersNext: string[];
    autoLeave: boolean;
  };
  latestSnapshotMeta: { term: string; index: string };
  /** null, or [current, last]; pending entries = max(0, last - current + 1). */
  applyProgressQueue: null | { current: string; last: string };
  firstVoter?: string;
  peerAddressById: Record<string, string>;
  /** undefined when the key is absent (Qdrant 1.4-1.7). */
  peerMetadataById?: Record<string, { version: string }>;
  /** Keys of cluster_metadata (1.11+); values are user data and not interpreted. */
  clusterMetadataKeys?: string[];
  thisPeerId: string;
  /** Top-level keys Qdrant would ignore; reported, accepted. */
  unknownKeys: string[];
}

const KNOWN_TOP_KEYS = new Set([
  'state',
  'latest_snapshot_meta',
  'apply_progress_queue',
  'first_voter',
  'peer_address_by_id',
  'peer_metadata_by_id',
  'cluster_metadata',
  'this_peer_id',
]);

function describe(value: unknown): string {
  if (value instanceof JsonNumber) return `number ${value.text}`;
  if (value === null) return 'null';
  if (value === undefined) return 'nothing (key missing)';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value)}`;
  if (typeof value === 'boolean') return `boolean ${value}`;
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (typeof value === 'object') return 'object';
  return typeof value;
}

const CANONICAL_UINT = /^(0|[1-9][0-9]*)$/;

/** Why `text` is not a u64 as serde would read it, or undefined when it is one. */
function u64Problem(text: string): string | undefined {
  if (text.startsWith('-')) return 'is negative';
  if (/[.eE]/.test(text)) return 'is not an integer (fraction or exponent)';
  if (!CANONICAL_UINT.test(text)) return 'is not a decimal integer';
  if (BigInt(text) > U64_MAX) return `exceeds u64::MAX ${U64_MAX}`;
  return undefined;
}

/** Collects every error with the key path, the type found and the type expected. */
class Validator {
  readonly errors: string[] = [];

  fail(path: string, expected: string, value: unknown): undefined {
    this.errors.push(`${path}: expected ${expected}, found ${describe(value)}`);
    return undefined;
  }

  object(path: string, value: unknown): Record<string, unknown> | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof JsonNumber) {
      return this.fail(path, 'an object', value);
    }
    return value as Record<string, unknown>;
  }

  u64(path: string, value: unknown): string | undefined {
    if (!(value instanceof JsonNumber)) return this.fail(path, 'an unsigned 64-bit integer (JSON number)', value);
    const problem = u64Problem(value.text);
    if (problem) {
      this.errors.push(`${path}: expected an unsigned 64-bit integer, found number ${value.text}, which ${problem}`);
      return undefined;
    }
    return value.text;
  }

  u64Key(path: string, key: string): string | undefined {
    const problem = u64Problem(key);
    if (problem) {
      this.errors.push(`${path}: expected map keys that are u64 peer ids, found key ${JSON.stringify(key)}, which ${problem}`);
      return undefined;
    }
    return key;
  }

  bool(path: string, value: unknown): boolean | undefined {
    if (typeof value !== 'boolean') return this.fail(path, 'a boolean', value);
    return value;
  }

  string(path: string, value: unknown): string | undefined {
    if (typeof value !== 'string') return this.fail(path, 'a string', value);
    return value;
  }

  u64Array(path: string, value: unknown): string[] | undefined {
    if (!Array.isArray(value)) return this.fail(path, 'an array of u64 peer ids', value);
    const out: string[] = [];
    value.forEach((item, i) => {
      const id = this.u64(`${path}[${i}]`, item);
      if (id !== undefined) out.push(id);
    });
    return out;
  }

  /** A map keyed by peer id; `each` validates one value. */
  peerMap<T>(path: string, value: unknown, each: (p: string, v: unknown) => T | undefined): Record<string, T> | undefined {
    const obj = this.object(path, value);
    if (!obj) return undefined;
    const out: Record<string, T> = {};
    for (const [key, v] of Object.entries(obj)) {
      const id = this.u64Key(path, key);
      const parsed = each(`${path}.${key}`, v);
      if (id !== undefined && parsed !== undefined) out[id] = parsed;
    }
    return out;
  }
}

/**
 * Validates a lossless tree against the raft state layout; returns the typed state or every error found.
 * Required: state.hard_state{term,vote,commit}, state.conf_state{5 keys}, peer_address_by_id, this_peer_id.
 * Optional with defaults: latest_snapshot_meta, apply_progress_queue, first_voter, peer_metadata_by_id,
 * cluster_metadata (docs/qdrant-facts.md#raft-state-file).
 */
export function validateRaftState(
  tree: unknown,
  format: RaftState['format'] = 'json',
): { ok: true; state: RaftState } | { ok: false; errors: string[] } {
  const v = new Validator();
  const root = v.object('(root)', tree);
  if (!root) return { ok: false, errors: v.errors };

  const state = v.object('state', root.state);
  const hard = state ? v.object('state.hard_state', state.hard_state) : undefined;
  const conf = state ? v.object('state.conf_state', state.conf_state) : undefined;
  const term = hard ? v.u64('state.hard_state.term', hard.term) : undefined;
  const vote = hard ? v.u64('state.hard_state.vote', hard.vote) : undefined;
  const commit = hard ? v.u64('state.hard_state.commit', hard.commit) : undefined;
  const voters = conf ? v.u64Array('state.conf_state.voters', conf.voters) : undefined;
  const learners = conf ? v.u64Array('state.conf_state.learners', conf.learners) : undefined;
  const votersOutgoing = conf ? v.u64Array('state.conf_state.voters_outgoing', conf.voters_outgoing) : undefined;
  const learnersNext = conf ? v.u64Array('state.conf_state.learners_next', conf.learners_next) : undefined;
  const autoLeave = conf ? v.bool('state.conf_state.auto_leave', conf.auto_leave) : undefined;

  let latestSnapshotMeta = { term: '0', index: '0' };
  if (root.latest_snapshot_meta !== undefined) {
    const meta = v.object('latest_snapshot_meta', root.latest_snapshot_meta);
    if (meta) {
      latestSnapshotMeta = {
        term: v.u64('latest_snapshot_meta.term', meta.term) ?? '0',
        index: v.u64('latest_snapshot_meta.index', meta.index) ?? '0',
      };
    }
  }

  let applyProgressQueue: RaftState['applyProgressQueue'] = null;
  const apq = root.apply_progress_queue;
  if (apq !== undefined && apq !== null) {
    if (!Array.isArray(apq) || apq.length !== 2) {
      v.fail('apply_progress_queue', 'null or a pair [current, last] of u64', apq);
    } else {
      const current = v.u64('apply_progress_queue[0]', apq[0]);
      const last = v.u64('apply_progress_queue[1]', apq[1]);
      if (current !== undefined && last !== undefined) applyProgressQueue = { current, last };
    }
  }

  const firstVoter = root.first_voter === undefined ? undefined : v.u64('first_voter', root.first_voter);
  const peerAddressById = v.peerMap('peer_address_by_id', root.peer_address_by_id, (p, val) => v.string(p, val));
  const peerMetadataById =
    root.peer_metadata_by_id === undefined
      ? undefined
      : v.peerMap('peer_metadata_by_id', root.peer_metadata_by_id, (p, val) => {
          const m = v.object(p, val);
          const version = m ? v.string(`${p}.version`, m.version) : undefined;
          return version === undefined ? undefined : { version };
        });
  let clusterMetadataKeys: string[] | undefined;
  if (root.cluster_metadata !== undefined) {
    const cm = v.object('cluster_metadata', root.cluster_metadata);
    if (cm) clusterMetadataKeys = Object.keys(cm);
  }
  const thisPeerId = v.u64('this_peer_id', root.this_peer_id);

  if (v.errors.length > 0) return { ok: false, errors: v.errors };
  return {
    ok: true,
    state: {
      format,
      hardState: { term: term!, vote: vote!, commit: commit! },
      confState: {
        voters: voters!,
        learners: learners!,
        votersOutgoing: votersOutgoing!,
        learnersNext: learnersNext!,
        autoLeave: autoLeave!,
      },
      latestSnapshotMeta,
      applyProgressQueue,
      ...(firstVoter !== undefined ? { firstVoter } : {}),
      peerAddressById: peerAddressById!,
      ...(peerMetadataById !== undefined ? { peerMetadataById } : {}),
      ...(clusterMetadataKeys !== undefined ? { clusterMetadataKeys } : {}),
      thisPeerId: thisPeerId!,
      unknownKeys: Object.keys(root).filter((k) => !KNOWN_TOP_KEYS.has(k)),
    },
  };
}

/** Offset of the first byte that is not valid UTF-8, or -1 (overlongs and surrogates count as invalid). */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min, cp] = [1, 0x80, b & 0x1f];
    else if (b >= 0xe0 && b <= 0xef) [need, min, cp] = [2, 0x800, b & 0x0f];
    else if (b >= 0xf0 && b <= 0xf4) [need, min, cp] = [3, 0x10000, b & 0x07];
    else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

export type ParseOutcome = { ok: true; state: RaftState } | { ok: false; problem: StateProblem };

/**
 * From the bytes of raft_state.json to a validated state, or the precise reason Qdrant would not load it
 * (state-json.ts reads it as serde_json reads it into Qdrant's Persistent struct).
 */
export function parseRaftStateJson(bytes: Uint8Array, file = 'raft_state.json'): ParseOutcome {
  const fail = (code: StateProblem['code'], message: string, errors?: string[]): ParseOutcome => ({
    ok: false,
    problem: { code, file, message, ...(errors ? { errors } : {}) },
  });
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    // serde_json rejects a byte order mark, so Qdrant could not load this file either.
    return fail('bom', 'starts with a UTF-8 byte order mark, which Qdrant (serde_json) rejects');
  }
  // JSON whitespace only: a file of non-breaking spaces is not empty to serde_json, it is invalid JSON.
  if (bytes.every((c) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d)) {
    return fail('empty', bytes.length === 0 ? 'is empty (0 bytes)' : `holds only whitespace (${bytes.length} bytes)`);
  }
  const out = deserializeStateJson(bytes);
  if (out.ok) return out;
  if ('syntax' in out) {
    const e = out.syntax;
    const at = bytes[e.offset];
    if (e.message.startsWith('invalid unicode code point') || (at !== undefined && at >= 0x80 && invalidUtf8Offset(bytes.subarray(e.offset, e.offset + 4)) === 0)) {
      return fail('invalid-utf8', `is not valid UTF-8 where Qdrant reads a string (byte 0x${bytes[e.offset]!.toString(16).padStart(2, '0')} at offset ${e.offset})`);
    }
    return fail('syntax', `is not valid JSON as Qdrant (serde_json) reads it (${bytes.length} bytes): ${e.message}`);
  }
  const more = out.errors.length > 1 ? ` (and ${out.errors.length - 1} more)` : '';
  return fail('schema', `is not a valid raft state: ${out.errors[0]}${more}`, out.errors);
}

/** cbor-x values to the same lossless tree JSON parsing gives: integers become JsonNumber. */
function cborToTree(value: unknown): unknown {
  if (typeof value === 'number') return new JsonNumber(Number.isInteger(value) ? value.toFixed(0) : String(value));
  if (typeof value === 'bigint') return new JsonNumber(value.toString());
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(k)] = cborToTree(v);
    return out;
  }
  if (Array.isArray(value)) return value.map(cborToTree);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = cborToTree(v);
    return out;
  }
  return value;
}

/** serde_cbor's recursion limit, as serde_json's: Qdrant (<= 1.3) could not read a deeper legacy state. */
const CBOR_DEPTH_LIMIT = 128;

/**
 * Walks the CBOR item structure without recursion and says when arrays/maps nest to the limit, before cbor-x
 * (which recurses) sees the bytes: the verdict must not depend on the stack size. Malformed bytes are left to cbor-x.
 */
export function cborDepthProblem(bytes: Uint8Array): string | undefined {
  /** Items still expected in each open container (Infinity: indefinite length, ended by a break). */
  const open: number[] = [];
  let i = 0;
  const arg = (info: number): number | undefined => {
    if (info < 24) return info;
    const n = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (n === 0 || i + n > bytes.length) return undefined;
    let v = 0;
    for (let k = 0; k < n; k++) v = v * 256 + bytes[i + k]!;
    i += n;
    return v;
  };
  const itemDone = () => {
    while (open.length > 0) {
      const top = open.length - 1;
      if (open[top] === Infinity) return;
      open[top]!--;
      if (open[top]! > 0) return;
      open.pop();
    }
  };
  while (i < bytes.length) {
    const b = bytes[i++]!;
    const major = b >> 5;
    const info = b & 31;
    if (b === 0xff) {
      if (open.length === 0 || open[open.length - 1] !== Infinity) return undefined;
      open.pop();
      itemDone();
      if (open.length === 0) return undefined;
      continue;
    }
    if (major === 6) {
      if (arg(info) === undefined) return undefined;
      continue; // a tag wraps the next item
    }
    if (major === 4 || major === 5) {
      const n = info === 31 ? Infinity : arg(info);
      if (n === undefined) return undefined;
      const items = n === Infinity ? Infinity : major === 5 ? n * 2 : n;
      if (items === 0) {
        itemDone();
      } else {
        open.push(items);
        if (open.length >= CBOR_DEPTH_LIMIT) return `nests arrays/maps ${CBOR_DEPTH_LIMIT} deep or more, beyond what serde_cbor reads`;
      }
    } else if (major === 2 || major === 3) {
      if (info === 31) {
        open.push(Infinity); // chunks until a break; not a nesting level serde counts, but it cannot hold containers
        continue;
      }
      const n = arg(info);
      if (n === undefined || i + n > bytes.length) return undefined;
      i += n;
      itemDone();
    } else {
      if (major === 7 && info >= 24 && info <= 27) i += info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 8;
      else if (major <= 1 && arg(info) === undefined) return undefined;
      itemDone();
    }
    if (open.length === 0) return undefined;
  }
  return undefined;
}

export type LegacyOutcome =
  | { ok: true; state: RaftState }
  | { ok: false; decoded: true; errors: string[] }
  | { ok: false; decoded: false; problem: StateProblem };

/**
 * The <= 1.3 CBOR `raft_state`. Qdrant reads it only when raft_state.json is absent (docs/qdrant-facts.md#storage-directory).
 * `decoded: true` with errors: it is CBOR but not the layout we know (we have no sample of every old
 * release), so the caller reports it as present rather than as corrupt.
 */
export function decodeLegacyRaftState(bytes: Uint8Array): LegacyOutcome {
  const file = 'raft_state';
  if (bytes.length === 0 || Buffer.from(bytes).toString('latin1').trim() === '') {
    return { ok: false, decoded: false, problem: { code: 'empty', file, message: `is empty (${bytes.length} bytes)` } };
  }
  const depth = cborDepthProblem(bytes);
  if (depth) return { ok: false, decoded: false, problem: { code: 'legacy-undecodable', file, message: `${depth} (${bytes.length} bytes)` } };
  let value: unknown;
  try {
    value = new Decoder({ mapsAsObjects: true, useRecords: false }).decode(bytes);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      decoded: false,
      problem: { code: 'legacy-undecodable', file, message: `is not decodable CBOR (${bytes.length} bytes): ${message}` },
    };
  }
  let tree: unknown;
  try {
    tree = cborToTree(value);
  } catch (err) {
    // Nesting deep enough to exhaust the stack: no raft state is shaped like that.
    const message = err instanceof RangeError ? 'is nested too deeply to be a raft state' : `could not be read (${String(err)})`;
    return { ok: false, decoded: false, problem: { code: 'legacy-undecodable', file, message: `${message} (${bytes.length} bytes)` } };
  }
  const result = validateRaftState(tree, 'cbor-legacy');
  if (!result.ok) return { ok: false, decoded: true, errors: result.errors };
  return result;
}

/** Oldest Qdrant release that writes this shape (docs/qdrant-facts.md#raft-state-file format history). */
export function formatHint(s: RaftState): string {
  if (s.format === 'cbor-legacy') return '<= 1.3 (legacy CBOR)';
  if (s.firstVoter !== undefined) return '>= 1.12.2';
  if (s.clusterMetadataKeys !== undefined) return '>= 1.11';
  if (s.peerMetadataById !== undefined) return '>= 1.8';
  return '1.4 to 1.7';
}

/** Raft entries committed but not yet applied: max(0, last - current + 1) (docs/qdrant-facts.md#raft-state-file). */
export function pendingEntries(s: RaftState): string {
  if (!s.applyProgressQueue) return '0';
  const n = BigInt(s.applyProgressQueue.last) - BigInt(s.applyProgressQueue.current) + 1n;
  return (n > 0n ? n : 0n).toString();
}

/** Peer id -> version, built in one pass (a state may name very many peers). */
function versionsOf(m: Record<string, { version: string }>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const id in m) out[id] = m[id]!.version;
  return out;
}

export function summarize(s: RaftState): StateSummary {
  return {
    format: s.format,
    thisPeerId: s.thisPeerId,
    term: s.hardState.term,
    vote: s.hardState.vote,
    commit: s.hardState.commit,
    voters: s.confState.voters,
    learners: s.confState.learners,
    ...(s.firstVoter !== undefined ? { firstVoter: s.firstVoter } : {}),
    peers: s.peerAddressById,
    ...(s.peerMetadataById ? { peerVersions: versionsOf(s.peerMetadataById) } : {}),
    formatHint: formatHint(s),
  };
}
