/**
 * Reads a Qdrant storage dir the way Qdrant would on start (docs/qdrant-facts.md#storage-directory) and classifies it:
 * fresh / initialized / missing-state / corrupt-state, with the evidence that led there.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { infraError, usageError } from '../errors.js';
import type { Classification, StateProblem, UsageEvidence, VolumeObservation } from '../policy/volume.js';
import { decodeLegacyRaftState, parseRaftStateJson, summarize, type RaftState } from './raft-state.js';
import { DEFAULT_MAX_STATE_BYTES, readStateFile } from './state-file.js';

export const STATE_JSON = 'raft_state.json';
export const STATE_LEGACY = 'raft_state';
export const WAL_DIR = 'collections_meta_wal';
/** Our own directory at the storage root (archives, replaced files, restore staging). Not a Qdrant entry. */
export const GUARD_DIR = '.upgrade-guard';

/** Transient entries Qdrant leaves behind (docs/qdrant-facts.md#storage-directory), plus our own dir: never evidence. */
export function isIgnoredEntry(name: string): boolean {
  return name.startsWith('.atomicwrite') || name === '.deleted' || name === 'tmp' || name === GUARD_DIR;
}

export interface InspectOptions {
  /** Name used in messages (PVC, pod); defaults to the path. */
  subject?: string;
  maxStateBytes?: number;
}

export interface StorageInspection extends VolumeObservation {
  storagePath: string;
  /** The parsed state Qdrant would load (JSON, else legacy). */
  raftState?: RaftState;
  /** Exact bytes of the state file that was parsed: the archive stores these, not a second read. */
  stateBytes?: Buffer;
  stateFile?: { name: string; bytes: number; sha256: string };
}

async function walStats(dir: string): Promise<{ segments: number; bytes: number }> {
  let segments = 0;
  let bytes = 0;
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return { segments: 0, bytes: 0 };
    throw infraError(`cannot list ${dir} (${code})`, { cause: err });
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    segments++;
    const st = await fs.lstat(path.join(dir, e.name)).catch(() => undefined);
    bytes += st?.size ?? 0;
  }
  return { segments, bytes };
}

async function collectionNames(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    // A collections/ that cannot be listed is no evidence of an unused volume: say so rather than count none.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return [];
    throw infraError(`cannot list ${dir} (${code}): whether the volume holds collections is unknown`, { cause: err });
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !isIgnoredEntry(e.name))
    .map((e) => e.name)
    .sort();
}

export async function inspectStorage(storagePath: string, options: InspectOptions = {}): Promise<StorageInspection> {
  const maxStateBytes = options.maxStateBytes ?? DEFAULT_MAX_STATE_BYTES;
  const subject = options.subject ?? storagePath;
  let rootStat;
  try {
    rootStat = await fs.stat(storagePath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw usageError(`storage directory ${storagePath} does not exist`, 'Pass the path Qdrant uses as storage_path (/qdrant/storage in the image).');
    }
    throw infraError(`cannot examine storage directory ${storagePath} (${code})`, { cause: err });
  }
  if (!rootStat.isDirectory()) throw usageError(`${storagePath} is not a directory`, 'Pass the Qdrant storage directory.');

  let entries;
  try {
    entries = await fs.readdir(storagePath, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw infraError(`cannot list storage directory ${storagePath} (${code})`, {
      cause: err,
      remedy: 'Run as a user that can read the volume (Qdrant runs as uid 1000).',
    });
  }

  const evidence: UsageEvidence = {
    walDir: false,
    walSegments: 0,
    walBytes: 0,
    collections: [],
    aliases: false,
    stateJsonPresent: false,
    legacyStatePresent: false,
    unknownEntries: [],
  };
  for (const e of entries) {
    if (isIgnoredEntry(e.name)) continue;
    const full = path.join(storagePath, e.name);
    switch (e.name) {
      case STATE_JSON:
        evidence.stateJsonPresent = true;
        break;
      case STATE_LEGACY:
        evidence.legacyStatePresent = true;
        break;
      case WAL_DIR: {
        evidence.walDir = true;
        const s = await walStats(full);
        evidence.walSegments = s.segments;
        evidence.walBytes = s.bytes;
        break;
      }
      case 'collections':
        evidence.collections = await collectionNames(full);
        break;
      case 'aliases':
        evidence.aliases = true;
        break;
      default:
        evidence.unknownEntries.push(e.name);
    }
  }
  evidence.unknownEntries.sort();
  // docs/qdrant-facts.md#storage-directory: used = any of WAL dir, a collection, aliases/.
  const used = evidence.walDir || evidence.collections.length > 0 || evidence.aliases;

  const notes: string[] = [];
  let classification: Classification;
  let problem: StateProblem | undefined;
  let raftState: RaftState | undefined;
  let stateBytes: Buffer | undefined;
  let stateName: string | undefined;

  const emptyOrCorrupt = (p: StateProblem): Classification => (p.code === 'empty' && used ? 'missing-state' : 'corrupt-state');

  if (evidence.stateJsonPresent) {
    const read = await readStateFile(path.join(storagePath, STATE_JSON), STATE_JSON, maxStateBytes);
    if (read.kind === 'bytes') {
      const parsed = parseRaftStateJson(read.bytes);
      if (parsed.ok) {
        classification = 'initialized';
        raftState = parsed.state;
        stateBytes = read.bytes;
        stateName = STATE_JSON;
      } else {
        problem = parsed.problem;
        classification = emptyOrCorrupt(problem);
      }
    } else if (read.kind === 'problem') {
      problem = read.problem;
      classification = 'corrupt-state';
    } else {
      // Vanished between readdir and open: treat as absent below.
      evidence.stateJsonPresent = false;
      classification = used ? 'missing-state' : 'fresh';
    }
    if (evidence.legacyStatePresent) {
      notes.push('the legacy raft_state (<= 1.3) is also present; Qdrant ignores it while raft_state.json exists');
    }
  } else if (evidence.legacyStatePresent) {
    const read = await readStateFile(path.join(storagePath, STATE_LEGACY), STATE_LEGACY, maxStateBytes);
    if (read.kind === 'bytes') {
      const decoded = decodeLegacyRaftState(read.bytes);
      stateName = STATE_LEGACY;
      stateBytes = read.bytes;
      if (decoded.ok) {
        classification = 'initialized';
        raftState = decoded.state;
      } else if (decoded.decoded) {
        // CBOR, but not a layout we can vouch for: Qdrant reads it with its own decoder, so report it present.
        classification = 'initialized';
        notes.push(`legacy raft_state is CBOR but its layout could not be validated: ${decoded.errors[0]}`);
      } else {
        problem = decoded.problem;
        classification = emptyOrCorrupt(problem);
        stateBytes = undefined;
        stateName = undefined;
      }
    } else if (read.kind === 'problem') {
      problem = read.problem;
      classification = 'corrupt-state';
    } else {
      evidence.legacyStatePresent = false;
      classification = used ? 'missing-state' : 'fresh';
    }
  } else {
    classification = used ? 'missing-state' : 'fresh';
  }
  if (classification === 'missing-state' && !problem) {
    problem = { code: 'absent', file: STATE_JSON, message: 'is missing (and so is the legacy raft_state)' };
  }
  if (raftState && raftState.unknownKeys.length > 0) {
    notes.push(`unknown keys accepted (Qdrant ignores them too): ${raftState.unknownKeys.join(', ')}`);
  }
  if (evidence.unknownEntries.length > 0) {
    notes.push(`entries that are not Qdrant's, ignored: ${evidence.unknownEntries.join(', ')}`);
  }

  return {
    subject,
    storagePath,
    classification,
    evidence,
    ...(raftState ? { state: summarize(raftState), raftState } : {}),
    ...(problem ? { problem } : {}),
    notes,
    ...(stateBytes ? { stateBytes } : {}),
    ...(stateBytes && stateName
      ? { stateFile: { name: stateName, bytes: stateBytes.length, sha256: createHash('sha256').update(stateBytes).digest('hex') } }
      : {}),
  };
}

/** The inspection as plain JSON-safe data for `details` (ids stay decimal strings; raw bytes left out). */
export function inspectionDetails(i: StorageInspection): Record<string, unknown> {
  return {
    storage: i.storagePath,
    classification: i.classification,
    evidence: i.evidence,
    ...(i.stateFile ? { stateFile: i.stateFile } : {}),
    ...(i.raftState ? { state: i.raftState } : {}),
    ...(i.state ? { summary: i.state } : {}),
    ...(i.problem ? { problem: i.problem } : {}),
    notes: i.notes,
  };
}
