/**
 * The upgrade record (docs/how-it-works.md#the-timeline-of-one-helm-upgrade, pre-upgrade): what pre-upgrade saw of every ordinal, kept in the
 * ConfigMap `<release>-upgrade-guard` under `record.json`, read by post-upgrade, `verify` and the staged
 * rollout. Pure: text in, text out; the kube adapter stores it.
 *
 * Decisions:
 * - Peer ids, terms and commits are u64 (docs/qdrant-facts.md#peer-ids-are-u64) and are written as decimal JSON strings.
 *   The reader parses with lossless-json and also accepts them as JSON integers (a hand-edited record),
 *   keeping the exact digits; it never goes through a JS number.
 * - peerId/term/commit are null (or "", as pre-upgrade writes when a worker reported nothing) when the
 *   volume had no usable state (classification other than `initialized`, or `unknown` when the worker failed):
 *   there is no identity to compare against. An `initialized` volume always has all three.
 * - Unknown keys are ignored, so an older guard can read a record a newer one wrote; known keys are checked
 *   strictly and every problem is reported at once.
 */
import { parse } from 'lossless-json';
import { GuardError } from '../errors.js';
import type { Verdict } from '../report.js';
import { CLASSIFICATIONS, type Classification } from './volume.js';

export const RECORD_SCHEMA_VERSION = 1;

/** A volume classification, or `unknown` when its worker gave no verdict. */
export type RecordClassification = Classification | 'unknown';
export const RECORD_CLASSIFICATIONS: readonly RecordClassification[] = [...CLASSIFICATIONS, 'unknown'];

export interface RecordedPeer {
  pod: string;
  pvc: string;
  /** Decimal u64; null or "" when the volume held no usable raft state. */
  peerId: string | null;
  term: string | null;
  commit: string | null;
  /** The version this pod ran before the upgrade; "" when unknown (the pod was not running). */
  version: string;
  /** File name of the raft-state archive taken before the upgrade. */
  archive?: string;
  /** sha256 (hex) of that archive. */
  sha256?: string;
  /** Name of the CSI VolumeSnapshot taken of the PVC (upgradeGuard.volumeSnapshotClassName). */
  volumeSnapshot?: string;
  classification: RecordClassification;
}

/** The name pre-upgrade uses. */
export type RecordPeer = RecordedPeer;

export const STAGED_ROLLOUT_STATUSES = ['in-progress', 'stopped', 'done'] as const;
export type StagedRolloutStatus = (typeof STAGED_ROLLOUT_STATUSES)[number];

export interface StagedRolloutState {
  /** Lowest ordinal already updated and verified; `replicas` when none is. */
  step: number;
  status: StagedRolloutStatus;
  /** The ordinal whose verification failed (status `stopped`). */
  failedOrdinal?: number;
  reason?: string;
}

export interface GuardRecord {
  schemaVersion: 1;
  release: string;
  /** Helm release revision of the upgrade this record guards. */
  revision: number;
  statefulset: string;
  fromVersion: string;
  toVersion: string;
  /** ISO 8601. */
  createdAt: string;
  /** Keyed by ordinal as a decimal string ("0", "1", ...). */
  peers: Record<string, RecordedPeer>;
  verdicts: { preUpgrade?: Verdict; postUpgrade?: Verdict };
  stagedRollout?: StagedRolloutState;
}

/** A JSON number as written. */
class Num {
  constructor(readonly text: string) {}
}

const U64_MAX = 18446744073709551615n;
const VERDICTS: readonly Verdict[] = ['pass', 'refuse', 'fail'];

/**
 * Parses and validates record.json. Throws an infrastructure GuardError (the hook cannot check against a
 * record it cannot read) listing every problem.
 */
export function parseRecord(text: string): GuardRecord {
  let tree: unknown;
  try {
    tree = parse(text, undefined, (s: string) => new Num(s));
  } catch (err) {
    throw recordError([`not JSON: ${(err as Error).message}`]);
  }
  const errors: string[] = [];
  const record = readRecord(tree, errors);
  if (errors.length > 0 || !record) throw recordError(errors);
  return record;
}

function recordError(errors: string[]): GuardError {
  return new GuardError('infrastructure', `the upgrade record (record.json) is invalid: ${errors.join('; ')}`, {
    remedy:
      'The record is written by pre-upgrade. Inspect it with `kubectl get configmap <release>-upgrade-guard -o yaml`; ' +
      'if it is damaged, delete the ConfigMap and run the upgrade again so pre-upgrade writes a new one.',
  });
}

/** Canonical JSON for the ConfigMap: fixed key order, 2-space indent, ids as strings. */
export function serializeRecord(record: GuardRecord): string {
  const peers: Record<string, unknown> = {};
  for (const ordinal of Object.keys(record.peers).sort((a, b) => Number(a) - Number(b))) {
    const p = record.peers[ordinal]!;
    peers[ordinal] = {
      pod: p.pod,
      pvc: p.pvc,
      peerId: p.peerId,
      term: p.term,
      commit: p.commit,
      version: p.version,
      ...(p.archive !== undefined ? { archive: p.archive } : {}),
      ...(p.sha256 !== undefined ? { sha256: p.sha256 } : {}),
      ...(p.volumeSnapshot !== undefined ? { volumeSnapshot: p.volumeSnapshot } : {}),
      classification: p.classification,
    };
  }
  const out = {
    schemaVersion: record.schemaVersion,
    release: record.release,
    revision: record.revision,
    statefulset: record.statefulset,
    fromVersion: record.fromVersion,
    toVersion: record.toVersion,
    createdAt: record.createdAt,
    peers,
    verdicts: { preUpgrade: record.verdicts.preUpgrade, postUpgrade: record.verdicts.postUpgrade },
    stagedRollout: record.stagedRollout
      ? {
          step: record.stagedRollout.step,
          status: record.stagedRollout.status,
          failedOrdinal: record.stagedRollout.failedOrdinal,
          reason: record.stagedRollout.reason,
        }
      : undefined,
  };
  return JSON.stringify(out, null, 2) + '\n';
}

// ---------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Num);
}

function describe(v: unknown): string {
  if (v instanceof Num) return `number ${v.text}`;
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

function str(o: Obj, key: string, at: string, errors: string[], opts: { optional?: boolean; nonEmpty?: boolean } = {}): string | undefined {
  const v = o[key];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'string' || (opts.nonEmpty !== false && v === '')) {
    errors.push(`${at}.${key}: expected a non-empty string, found ${describe(v)}`);
    return undefined;
  }
  return v;
}

function int(o: Obj, key: string, at: string, errors: string[], optional = false): number | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (!(v instanceof Num) || !/^(0|[1-9]\d*)$/.test(v.text) || !Number.isSafeInteger(Number(v.text))) {
    errors.push(`${at}.${key}: expected a non-negative integer, found ${describe(v)}`);
    return undefined;
  }
  return Number(v.text);
}

/** A u64 as a decimal string or a JSON integer (exact digits kept), or null when allowed. */
function u64(o: Obj, key: string, at: string, errors: string[], nullable: boolean): string | null | undefined {
  const v = o[key];
  if (nullable && (v === null || v === '')) return v;
  const text = v instanceof Num ? v.text : typeof v === 'string' ? v : undefined;
  if (text !== undefined && /^(0|[1-9]\d*)$/.test(text) && BigInt(text) <= U64_MAX) return text;
  errors.push(`${at}.${key}: expected a u64 as a decimal string${nullable ? ' or null' : ''}, found ${describe(v)}`);
  return undefined;
}

function isoTime(o: Obj, key: string, at: string, errors: string[]): string | undefined {
  const v = str(o, key, at, errors);
  if (v === undefined) return undefined;
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) || Number.isNaN(Date.parse(v))) {
    errors.push(`${at}.${key}: expected an ISO 8601 time such as 2025-03-21T10:15:02Z, found ${describe(v)}`);
    return undefined;
  }
  return v;
}

function readRecord(tree: unknown, errors: string[]): GuardRecord | undefined {
  if (!isObj(tree)) {
    errors.push(`top level: expected an object, found ${describe(tree)}`);
    return undefined;
  }
  const at = 'record';
  const schema = tree.schemaVersion;
  if (!(schema instanceof Num) || schema.text !== String(RECORD_SCHEMA_VERSION)) {
    errors.push(`${at}.schemaVersion: expected ${RECORD_SCHEMA_VERSION}, found ${describe(schema)}`);
  }
  const release = str(tree, 'release', at, errors);
  const revision = int(tree, 'revision', at, errors);
  const statefulset = str(tree, 'statefulset', at, errors);
  const fromVersion = str(tree, 'fromVersion', at, errors);
  const toVersion = str(tree, 'toVersion', at, errors);
  const createdAt = isoTime(tree, 'createdAt', at, errors);

  const peers: Record<string, RecordedPeer> = {};
  if (!isObj(tree.peers)) {
    errors.push(`${at}.peers: expected an object keyed by ordinal, found ${describe(tree.peers)}`);
  } else {
    for (const [ordinal, raw] of Object.entries(tree.peers)) {
      const pat = `${at}.peers["${ordinal}"]`;
      if (!/^(0|[1-9]\d*)$/.test(ordinal)) errors.push(`${pat}: the key must be an ordinal such as "0"`);
      const peer = readPeer(raw, pat, errors);
      if (peer) peers[ordinal] = peer;
    }
  }

  const verdicts: GuardRecord['verdicts'] = {};
  if (tree.verdicts !== undefined && !isObj(tree.verdicts)) {
    errors.push(`${at}.verdicts: expected an object, found ${describe(tree.verdicts)}`);
  } else if (isObj(tree.verdicts)) {
    for (const key of ['preUpgrade', 'postUpgrade'] as const) {
      const raw = tree.verdicts[key];
      if (raw === undefined || raw === null) continue;
      if (typeof raw === 'string' && (VERDICTS as readonly string[]).includes(raw)) verdicts[key] = raw as Verdict;
      else errors.push(`${at}.verdicts.${key}: expected one of ${VERDICTS.join(', ')}, found ${describe(raw)}`);
    }
  }

  let stagedRollout: StagedRolloutState | undefined;
  if (tree.stagedRollout !== undefined && tree.stagedRollout !== null) {
    stagedRollout = readStaged(tree.stagedRollout, `${at}.stagedRollout`, errors);
  }

  if (errors.length > 0) return undefined;
  return {
    schemaVersion: 1,
    release: release!,
    revision: revision!,
    statefulset: statefulset!,
    fromVersion: fromVersion!,
    toVersion: toVersion!,
    createdAt: createdAt!,
    peers,
    verdicts,
    ...(stagedRollout ? { stagedRollout } : {}),
  };
}

function readPeer(raw: unknown, at: string, errors: string[]): RecordedPeer | undefined {
  if (!isObj(raw)) {
    errors.push(`${at}: expected an object, found ${describe(raw)}`);
    return undefined;
  }
  const before = errors.length;
  const classification = raw.classification;
  if (typeof classification !== 'string' || !(RECORD_CLASSIFICATIONS as readonly string[]).includes(classification)) {
    errors.push(`${at}.classification: expected one of ${RECORD_CLASSIFICATIONS.join(', ')}, found ${describe(classification)}`);
  }
  // Only an initialized volume has an identity; the others may carry null.
  const nullable = classification !== 'initialized';
  const pod = str(raw, 'pod', at, errors);
  const pvc = str(raw, 'pvc', at, errors);
  const peerId = u64(raw, 'peerId', at, errors, nullable);
  const term = u64(raw, 'term', at, errors, nullable);
  const commit = u64(raw, 'commit', at, errors, nullable);
  const version = str(raw, 'version', at, errors, { nonEmpty: false });
  const archive = raw.archive === null ? undefined : str(raw, 'archive', at, errors, { optional: true });
  let sha256: string | undefined;
  if (raw.sha256 !== undefined && raw.sha256 !== null) {
    if (typeof raw.sha256 === 'string' && /^[0-9a-f]{64}$/.test(raw.sha256)) sha256 = raw.sha256;
    else errors.push(`${at}.sha256: expected 64 lowercase hex digits, found ${describe(raw.sha256)}`);
  }
  const volumeSnapshot = raw.volumeSnapshot === null ? undefined : str(raw, 'volumeSnapshot', at, errors, { optional: true });
  if (errors.length > before) return undefined;
  return {
    pod: pod!,
    pvc: pvc!,
    peerId: peerId!,
    term: term!,
    commit: commit!,
    version: version!,
    ...(archive !== undefined ? { archive } : {}),
    ...(sha256 !== undefined ? { sha256 } : {}),
    ...(volumeSnapshot !== undefined ? { volumeSnapshot } : {}),
    classification: classification as RecordClassification,
  };
}

function readStaged(raw: unknown, at: string, errors: string[]): StagedRolloutState | undefined {
  if (!isObj(raw)) {
    errors.push(`${at}: expected an object, found ${describe(raw)}`);
    return undefined;
  }
  const before = errors.length;
  const step = int(raw, 'step', at, errors);
  const status = raw.status;
  if (typeof status !== 'string' || !(STAGED_ROLLOUT_STATUSES as readonly string[]).includes(status)) {
    errors.push(`${at}.status: expected one of ${STAGED_ROLLOUT_STATUSES.join(', ')}, found ${describe(status)}`);
  }
  const failedOrdinal = raw.failedOrdinal === null ? undefined : int(raw, 'failedOrdinal', at, errors, true);
  const reason = raw.reason === null ? undefined : str(raw, 'reason', at, errors, { optional: true, nonEmpty: false });
  if (status === 'stopped' && failedOrdinal === undefined && raw.failedOrdinal === undefined) {
    errors.push(`${at}.failedOrdinal: required when status is "stopped"`);
  }
  if (errors.length > before) return undefined;
  return {
    step: step!,
    status: status as StagedRolloutStatus,
    ...(failedOrdinal !== undefined ? { failedOrdinal } : {}),
    ...(reason !== undefined ? { reason } : {}),
  };
}
