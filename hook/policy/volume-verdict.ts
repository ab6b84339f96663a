/**
 * The verdict on one storage volume before Qdrant starts on it (DESIGN.md "Storage classification"):
 * `fresh` and `initialized` pass; `missing-state` and `corrupt-state` refuse, because starting Qdrant there
 * mints a new peer id and replays the old consensus log under it (docs/incident-6229.md, qdrant/qdrant#6229).
 * Pure: the caller observes the volume and finds the newest archive.
 */
import semver from 'semver';
import { check, type Check } from '../report.js';
import { NEVER_START_WITHOUT_STATE, RUNBOOKS, noArchive, restoreArchive, runbook } from './remedies.js';
import type { ArchiveRef, StateProblem, UsageEvidence, VolumeObservation } from './volume.js';

export const VOLUME_STATE_CHECK_ID = 'volume.state';

export interface VolumeVerdictInput {
  volume: VolumeObservation;
  /** Storage path as the operator would type it in the restore command. */
  storagePath: string;
  newestArchive?: ArchiveRef;
  /** The Qdrant version that runs on this volume now (`--from`), when known. */
  runningVersion?: string;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v >= 10 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** "collections_meta_wal/ holds 3 segments (96 MiB), 2 collections, aliases/": what proves the volume was used. */
export function describeUsage(e: UsageEvidence): string {
  const parts: string[] = [];
  if (e.walDir) parts.push(`collections_meta_wal/ holds ${e.walSegments} segment(s) (${formatBytes(e.walBytes)})`);
  if (e.collections.length > 0) {
    const names = e.collections.slice(0, 5).join(', ') + (e.collections.length > 5 ? ', ...' : '');
    parts.push(`collections/ holds ${e.collections.length} collection(s) (${names})`);
  }
  if (e.aliases) parts.push('aliases/ exists');
  return parts.length > 0 ? parts.join(', ') : 'no WAL, collections or aliases';
}

/** The way back for this volume: its newest archive, or, without one, a backup or a new peer. Ends with a full stop. */
function restoreStep(input: VolumeVerdictInput): string {
  if (input.newestArchive) return restoreArchive({ archivePath: input.newestArchive.path, storagePath: input.storagePath });
  return noArchive({});
}

function problemRemedy(problem: StateProblem, input: VolumeVerdictInput): string {
  const restore = restoreStep(input);
  switch (problem.code) {
    case 'symlink':
      return `${problem.file} is a symbolic link; Qdrant replaces it by rename on the next write, so the target is not the state it uses. Put the real file in its place, or: ${restore}`;
    case 'not-a-file':
      return `${problem.file} must be a regular file. Move the entry away, then: ${restore}`;
    case 'unreadable':
      return `Make ${problem.file} readable by uid 1000 (Qdrant's user): chown 1000:1000 and chmod 0600 it, then run the check again (${runbook(RUNBOOKS.lostState)}).`;
    case 'oversized':
      return `A raft state is a few KiB; this is not one. If it really is a state, raise --max-state-bytes; otherwise move it away, then: ${restore}`;
    default:
      return `Do not start Qdrant on this volume: it would fail to load the state or start under a new identity. ${restore}`;
  }
}

export function decideVolume(input: VolumeVerdictInput): Check[] {
  const v = input.volume;
  const subject = v.subject;
  const usage = describeUsage(v.evidence);

  switch (v.classification) {
    case 'fresh':
      return [
        check(
          VOLUME_STATE_CHECK_ID,
          'pass',
          subject,
          'fresh volume: no raft state, no WAL, no collections (a new peer will be created)',
          'fresh or initialized',
        ),
      ];
    case 'initialized': {
      const s = v.state;
      const legacyOnly = !v.evidence.stateJsonPresent && v.evidence.legacyStatePresent;
      const running = input.runningVersion !== undefined ? semver.coerce(input.runningVersion) : null;
      // A volume that only holds the <= 1.3 CBOR file while a newer Qdrant runs on it has lost the JSON file:
      // every 1.4+ start writes raft_state.json, so the legacy file is stale (docs/qdrant-facts.md#storage-directory).
      if (legacyOnly && running && semver.gte(running, '1.4.0')) {
        return [
          check(
            VOLUME_STATE_CHECK_ID,
            'fail',
            subject,
            `raft_state.json is missing; only the legacy raft_state (Qdrant <= 1.3) remains while ${input.runningVersion} runs here, so it is stale (${usage})`,
            'raft_state.json present and valid',
            `Qdrant ${input.runningVersion} always writes raft_state.json, so it was lost; the legacy file holds an old term and commit. ${restoreStep(input)}`,
          ),
        ];
      }
      if (!s) {
        return [
          check(
            VOLUME_STATE_CHECK_ID,
            'warn',
            subject,
            'legacy raft_state (CBOR, <= 1.3) present; its layout could not be validated',
            'fresh or initialized',
            'Qdrant will read and migrate it to raft_state.json on start; run inspect afterwards to confirm the peer id.',
          ),
        ];
      }
      const source = s.format === 'json' ? 'raft_state.json' : 'legacy raft_state (CBOR, <= 1.3)';
      return [
        check(
          VOLUME_STATE_CHECK_ID,
          'pass',
          subject,
          `${source}: peer ${s.thisPeerId}, term ${s.term}, commit ${s.commit}, ${s.voters.length} voter(s)`,
          'fresh or initialized',
        ),
      ];
    }
    case 'missing-state': {
      const what =
        v.problem?.code === 'empty' ? 'raft_state.json is empty' : 'raft_state.json and the legacy raft_state are missing';
      return [
        check(
          VOLUME_STATE_CHECK_ID,
          'fail',
          subject,
          `${what} while ${usage}`,
          'raft_state.json present and valid on a volume Qdrant has used',
          `${NEVER_START_WITHOUT_STATE} ${restoreStep(input)}`,
        ),
      ];
    }
    case 'corrupt-state': {
      const p = v.problem!;
      return [
        check(
          VOLUME_STATE_CHECK_ID,
          'fail',
          subject,
          `${p.file}: ${p.message}${usage === 'no WAL, collections or aliases' ? '' : ` (${usage})`}`,
          `${p.file} a regular, readable file holding a valid raft state`,
          problemRemedy(p, input),
        ),
      ];
    }
  }
}
