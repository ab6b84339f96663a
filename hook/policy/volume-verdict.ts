/**
 * The verdict on one storage volume before Qdrant starts on it (docs/storage-classification.md):
 * `fresh` and `initialized` pass; `missing-state` and `corrupt-state` refuse, because starting Qdrant there
 * mints a new peer id and replays the old consensus log under it (docs/incident-6229.md, qdrant/qdrant#6229).
 * Pure: the caller observes the volume and finds the newest archive.
 */
import { check, type Check } from '../report.js';
import { NEVER_START_WITHOUT_STATE, RUNBOOKS, noArchive, restoreArchive, runbook } from './remedies.js';
import type { ArchiveRef, StateProblem, StateSummary, UsageEvidence, VolumeObservation } from './volume.js';
import { QDRANT_VERSION_FACTS, versionAtLeast } from './version.js';

export const VOLUME_STATE_CHECK_ID = 'volume.state';
export const PHANTOM_VOTER_CHECK_ID = 'volume.phantom-voter';
export const STUB_STATE_CHECK_ID = 'volume.stub-state';

export interface VolumeVerdictInput {
  volume: VolumeObservation;
  /** Storage path as the operator would type it in the restore command. */
  storagePath: string;
  newestArchive?: ArchiveRef;
  /** The Qdrant version that runs on this volume now (`--from`), when known. */
  runningVersion?: string;
  /** The check at every Qdrant start (`volume --check-only`): a phantom voter is reported, not held (see phantomCheck). */
  startupCheck?: boolean;
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

/** Two or more voters recorded at one address: all but one of them are phantoms. */
export interface SharedAddress {
  /** As written in the state (the first spelling seen). */
  address: string;
  /** Voter ids at that address, in the state's voter order. */
  peerIds: string[];
}

/** `http://host:6335/` and `HTTP://host:6335` are one peer's address; Qdrant stores the URI with a trailing slash. */
function addressKey(uri: string): string {
  return uri.trim().toLowerCase().replace(/\/+$/, '');
}

/**
 * Voters (and learners) that share one address. Qdrant 1.13 lets a peer that restarted without raft_state.json
 * replay the old consensus log under a new id, which re-adds the old id as a voter at the same URI; from then on
 * every peer's state holds both ids and nothing new commits (qdrant/qdrant#6229, observed on the real 1.13.4 ->
 * 1.13.5 binaries: 3 peers become 4 voters, two sharing one address).
 */
export function sharedVoterAddresses(s: StateSummary): SharedAddress[] {
  const byAddress = new Map<string, SharedAddress>();
  for (const id of [...s.voters, ...s.learners]) {
    const uri = s.peers[id];
    if (uri === undefined) continue;
    const key = addressKey(uri);
    const entry = byAddress.get(key) ?? { address: uri, peerIds: [] };
    if (!entry.peerIds.includes(id)) entry.peerIds.push(id);
    byAddress.set(key, entry);
  }
  return [...byAddress.values()].filter((e) => e.peerIds.length > 1);
}

/**
 * The state a Qdrant 1.16 peer writes before it has joined anyone: term 0, no voters or learners, no addresses.
 * A new peer passes through it for a moment; on a volume that holds collections it means the state was lost and
 * the peer is trying to join as a stranger, which the leader rejects because its URI belongs to the old id
 * ("Rejected peer ... URI is already registered by peer ..."), and the peer then panics on every start
 * (observed on the real 1.16.3 binary with three peers).
 */
export function isStubState(s: StateSummary): boolean {
  return (
    s.format === 'json' &&
    s.term === '0' &&
    s.commit === '0' &&
    s.voters.length === 0 &&
    s.learners.length === 0 &&
    Object.keys(s.peers).length === 0
  );
}

/** Collections or aliases: what only a peer that took part in a cluster can have. */
function holdsData(e: UsageEvidence): boolean {
  return e.collections.length > 0 || e.aliases;
}

const DELETE_PEER_DOC = 'https://api.qdrant.tech/api-reference/distributed/remove-peer';

function phantomCheck(input: VolumeVerdictInput, s: StateSummary, shared: SharedAddress[]): Check {
  const v = input.volume;
  const described = shared.map((x) => `${x.peerIds.join(' and ')} at ${x.address}`).join('; ');
  const observed =
    `${shared.length === 1 ? 'one address belongs to' : 'addresses belong to'} several voters in raft_state.json: ${described} ` +
    `(${s.voters.length} voter(s) in all, this volume is peer ${s.thisPeerId})`;
  const mine = shared.find((x) => x.peerIds.includes(s.thisPeerId));
  const minted = mine ? s.thisPeerId : '<the id that pod minted>';
  const removal =
    `remove the id it minted from the consensus with Qdrant's DELETE /cluster/peer/{peer_id} API, sent to any peer once ` +
    `all are up: curl -X DELETE 'http://<peer>:6333/cluster/peer/${minted}' (add ?force=true only if it still lists shards; ` +
    `${DELETE_PEER_DOC})`;
  let remedy: string;
  if (mine) {
    const old = mine.peerIds.filter((id) => id !== s.thisPeerId).join(', ');
    remedy =
      `This volume's peer started without its raft state and runs as ${s.thisPeerId}; its old identity ${old} is still a voter ` +
      `at the same address, so the consensus cannot commit (qdrant/qdrant#6229). Stop Qdrant on this volume and restore the ` +
      `archive taken before the incident, which holds peer ${old}: ` +
      (input.newestArchive
        ? `qdrant-upgrade-guard restore --archive ${input.newestArchive.path} --storage ${input.storagePath} --allow-peer-change`
        : `list them with \`qdrant-upgrade-guard archives --storage ${input.storagePath}\`, then qdrant-upgrade-guard restore --archive <file> --storage ${input.storagePath} --allow-peer-change`) +
      ` (restore protects the state it finds, which is now the minted peer ${s.thisPeerId}: --allow-peer-change puts ${old} back). ` +
      `Then ${removal}. See ${runbook(RUNBOOKS.lostState)}.`;
  } else {
    remedy =
      `A peer at ${shared.map((x) => x.address).join(', ')} restarted without its raft state and came back under a new id, and ` +
      `the old one is still a voter, so the consensus cannot commit (qdrant/qdrant#6229). Nothing is wrong with this volume ` +
      `itself: restore that peer's volume from its archive taken before the incident (its own volume check names the ` +
      `archive), then ${removal}. See ${runbook(RUNBOOKS.lostState)}.`;
  }
  // At Qdrant's start (the init container) this is reported loudly but does not hold the pod: every volume of the
  // cluster carries the same state, so holding pods would stop the whole data plane, which still answers reads and
  // writes while the consensus is stuck, and the phantom can only be removed by a consensus commit that needs the
  // peers running. Before an upgrade it refuses: rolling pods now would restart every peer into the stuck consensus.
  return check(
    PHANTOM_VOTER_CHECK_ID,
    input.startupCheck ? 'warn' : 'fail',
    v.subject,
    observed,
    'one voter per address',
    remedy,
  );
}

function stubCheck(input: VolumeVerdictInput, s: StateSummary): Check {
  const usage = describeUsage(input.volume.evidence);
  return check(
    STUB_STATE_CHECK_ID,
    'fail',
    input.volume.subject,
    `raft_state.json is the empty state of a peer that never joined (peer ${s.thisPeerId}, term 0, no voters, no addresses) ` +
      `while ${usage}: the state of the peer that used this volume was lost`,
    'a state naming the voters of the cluster on a volume that holds collections',
    `Qdrant 1.16 starts here as a stranger whose URI is registered to the lost peer id; the leader rejects the join and the ` +
      `peer panics on every start ("Can't initialize consensus"), qdrant/qdrant#6229. ${restoreStep(input)} Add ` +
      `--allow-peer-change to that restore: the stub names the minted id ${s.thisPeerId}, which restore otherwise protects. Holding the pod ` +
      `here changes nothing for the cluster (Qdrant would crash anyway) and says why. See ${runbook(RUNBOOKS.lostState)}.`,
  );
}

export function decideVolume(input: VolumeVerdictInput): Check[] {
  const checks = decideStateFile(input);
  const s = input.volume.state;
  if (input.volume.classification === 'initialized' && s && s.format === 'json') {
    const shared = sharedVoterAddresses(s);
    if (shared.length > 0) checks.push(phantomCheck(input, s, shared));
    if (isStubState(s) && holdsData(input.volume.evidence)) checks.push(stubCheck(input, s));
  }
  return checks;
}

function decideStateFile(input: VolumeVerdictInput): Check[] {
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
      const newerQdrant = versionAtLeast(input.runningVersion, QDRANT_VERSION_FACTS.jsonRaftStateSince);
      // A volume that only holds the <= 1.3 CBOR file while a newer Qdrant runs on it has lost the JSON file:
      // every 1.4+ start writes raft_state.json, so the legacy file is stale (docs/qdrant-facts.md#storage-directory).
      if (legacyOnly && newerQdrant) {
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
