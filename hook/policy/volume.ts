/**
 * Plain-data description of one Qdrant storage volume, as storage/ observes it and policy/ judges it
 * (docs/qdrant-facts.md#storage-directory). Ids, terms and commits are exact decimal strings (docs/qdrant-facts.md#peer-ids-are-u64).
 */

export const CLASSIFICATIONS = ['fresh', 'initialized', 'missing-state', 'corrupt-state'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

/** Why a state file could not be used; each has its own remedy. */
export const STATE_PROBLEM_CODES = [
  'absent',
  'empty',
  'symlink',
  'not-a-file',
  'unreadable',
  'oversized',
  'invalid-utf8',
  'bom',
  'syntax',
  'schema',
  'legacy-undecodable',
] as const;
export type StateProblemCode = (typeof STATE_PROBLEM_CODES)[number];

export interface StateProblem {
  code: StateProblemCode;
  /** The file concerned: `raft_state.json` or `raft_state`. */
  file: string;
  /** One sentence with the detail: which key, what was found, what was expected. */
  message: string;
  /** Every validation error when code is "schema" (the message holds the first). */
  errors?: string[];
}

/** What Qdrant has left on the volume apart from the state file: the evidence that it was used. */
export interface UsageEvidence {
  /** collections_meta_wal/ exists (the consensus WAL, cluster mode). */
  walDir: boolean;
  walSegments: number;
  walBytes: number;
  /** Names of directories under collections/ (transient entries ignored). */
  collections: string[];
  aliases: boolean;
  /** raft_state.json present as any kind of entry (file, dir, symlink). */
  stateJsonPresent: boolean;
  /** legacy CBOR raft_state (<= 1.3) present. */
  legacyStatePresent: boolean;
  /** Entries at the storage root that are neither Qdrant's nor transient (reported, not judged). */
  unknownEntries: string[];
}

/** The fields of a parsed state that decisions and reports need. */
export interface StateSummary {
  format: 'json' | 'cbor-legacy';
  thisPeerId: string;
  term: string;
  vote: string;
  commit: string;
  voters: string[];
  learners: string[];
  firstVoter?: string;
  /** Peer id -> address (empty when cluster mode is off). */
  peers: Record<string, string>;
  /** Peer id -> version from peer_metadata_by_id; undefined before 1.8. */
  peerVersions?: Record<string, string>;
  /** Oldest Qdrant release that writes this shape, e.g. ">= 1.12.2". */
  formatHint: string;
}

export interface VolumeObservation {
  /** What to name in messages: a PVC, pod or path. */
  subject: string;
  classification: Classification;
  evidence: UsageEvidence;
  state?: StateSummary;
  problem?: StateProblem;
  /** Non-fatal remarks (legacy file beside the JSON one, unknown keys, ...). */
  notes: string[];
}

/** The newest archive of this volume, if the caller found one (for the remedy). */
export interface ArchiveRef {
  name: string;
  path: string;
}
