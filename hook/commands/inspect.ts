/**
 * `inspect --storage DIR`: describe a storage dir as Qdrant would read it. Exits 0 whatever it finds
 * (docs/storage-classification.md): what would be a refusal in `volume` is shown here as a warning with the same remedy.
 */
import { check, type Check, type Report } from '../report.js';
import { decideVolume, describeUsage } from '../policy/volume-verdict.js';
import { inspectStorage, inspectionDetails, type StorageInspection } from '../storage/inspect.js';
import { defaultArchiveDir, listArchives } from '../archive/list.js';

export interface InspectCommandOptions {
  storage: string;
  archiveDir?: string;
  maxStateBytes?: number;
}

const MAX_PEERS_LISTED = 20;

/** Extra lines for a person: the evidence and the peers, as passing checks (rendered as observed text). */
export function describeInspection(i: StorageInspection): Check[] {
  const out: Check[] = [];
  out.push(check('volume.evidence', 'pass', i.subject, describeUsage(i.evidence), ''));
  if (i.state) {
    const s = i.state;
    // A state may name very many peers (hostile or damaged): list the first ones, count the rest.
    const ids = Object.keys(s.peers);
    const peers = ids.slice(0, MAX_PEERS_LISTED).map((id) => {
      const version = s.peerVersions?.[id];
      return `${id}${id === s.thisPeerId ? ' (this peer)' : ''} ${s.peers[id]}${version ? ` v${version}` : ''}`;
    });
    if (ids.length > MAX_PEERS_LISTED) peers.push(`and ${ids.length - MAX_PEERS_LISTED} more`);
    const voters = s.voters.join(', ') || 'none (bootstrap peer that never joined)';
    out.push(
      check('volume.peers', 'pass', i.subject,
        `format ${s.formatHint}; voters: ${voters}${s.firstVoter ? `; first voter ${s.firstVoter}` : ''}` +
          (peers.length > 0 ? `; peers: ${peers.join('; ')}` : '; cluster mode off (no peer addresses)'),
        ''),
    );
  }
  for (const note of i.notes) out.push(check('volume.note', 'pass', i.subject, note, ''));
  return out;
}

export function summarizeInspection(i: StorageInspection): string {
  switch (i.classification) {
    case 'fresh':
      return `${i.subject} is fresh: Qdrant has not used it yet`;
    case 'initialized':
      return i.state
        ? `${i.subject} is initialized: peer ${i.state.thisPeerId}, term ${i.state.term}, commit ${i.state.commit}`
        : `${i.subject} is initialized (legacy raft_state, not validated)`;
    case 'missing-state':
      return `${i.subject} has lost its raft state: ${describeUsage(i.evidence)} but no state file`;
    case 'corrupt-state':
      return `${i.subject} has an unusable state file: ${i.problem?.file} ${i.problem?.message}`;
  }
}

export async function runInspect(opts: InspectCommandOptions): Promise<Report> {
  const inspection = await inspectStorage(opts.storage, { ...(opts.maxStateBytes ? { maxStateBytes: opts.maxStateBytes } : {}) });
  const archiveDir = opts.archiveDir ?? defaultArchiveDir(opts.storage);
  const archives = await listArchives(archiveDir).catch(() => []);
  const newest = archives[0];
  const verdictChecks = decideVolume({
    volume: inspection,
    storagePath: opts.storage,
    ...(newest ? { newestArchive: { name: newest.name, path: newest.path } } : {}),
  }).map((c) => (c.status === 'fail' ? { ...c, status: 'warn' as const } : c));
  return {
    schemaVersion: 1,
    command: 'inspect',
    verdict: 'pass',
    summary: summarizeInspection(inspection),
    checks: [...verdictChecks, ...describeInspection(inspection)],
    details: {
      ...inspectionDetails(inspection),
      archiveDir,
      archives: archives.map((a) => ({ name: a.name, path: a.path, bytes: a.bytes, createdAt: a.createdAt.toISOString() })),
    },
  };
}
