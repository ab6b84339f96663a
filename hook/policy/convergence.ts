/**
 * Convergence after an upgrade (docs/how-it-works.md#the-timeline-of-one-helm-upgrade, post-upgrade, and `helm test` / `verify`): every peer came
 * back as itself, on the target version, in one healthy consensus (docs/qdrant-facts.md#converged). Pure.
 *
 * Rules, decided on purpose:
 * - Version: the version from GET / equals the target on major.minor.patch; a leading `v` is ignored.
 *   Pre-release/build labels are compared deliberately but do not fail: Qdrant image variants
 *   (`v1.13.5-unprivileged`) are labels to semver while GET / reports `1.13.5`, the same release (as in
 *   version.ts). A differing label is named in the observation.
 * - Identity: `GET /cluster` peer_id equals the id recorded for that ordinal before the upgrade. Without a
 *   record (a fresh install, `helm test` before any guarded upgrade), for an ordinal added after the record,
 *   or for a volume that was fresh then, identity is `skip` with the reason.
 * - Peer metadata (1.16+ only, where telemetry exposes it): every entry names the target version. A
 *   single-peer cluster on 1.13.3 to 1.14.x never refreshes its own entry (docs/qdrant-facts.md#single-peer-stale-metadata), so stale self-metadata there
 *   passes with a note (staleSelfMetadataIsExpected).
 * - The consensus rules (one leader, one term, equal commits, nothing pending, consensus working, every
 *   replica Active, one peer per replica, no duplicate URIs) are cluster-health.ts's, with no override: after
 *   the upgrade a failure is a failure.
 * - A pod that did not answer fails `cluster.reachable` once; its per-pod checks are `skip`, not repeated fails.
 */
import type { SemVer } from 'semver';
import { check, type Check } from '../report.js';
import type { PeerObservation } from './types.js';
import { CHECK_IDS } from './check-ids.js';
import { noArchive, removeMintedPeer, restoreArchive } from './remedies.js';
import {
  answers,
  consensusChecks,
  enabledPeers,
  membershipChecks,
  modeCheck,
  podOfPeer,
  reachabilityChecks,
  sortByOrdinal,
  type EnabledCluster,
} from './consensus.js';
import { parseVersion, QDRANT_VERSION_FACTS, readVersion, versionAtLeast, versionCore, versionWithin } from './version.js';
import type { RecordClassification } from './record.js';
import { archiveDirOf, QDRANT_STORAGE_PATH } from './layout.js';

/** What convergence needs of one recorded ordinal; GuardRecord['peers'] entries fit. */
export interface RecordedIdentity {
  pod: string;
  /** null when the volume held no state before the upgrade. */
  peerId: string | null;
  /** The version before the upgrade. */
  version: string;
  pvc?: string;
  archive?: string;
  classification?: RecordClassification;
}

export interface ConvergenceInput {
  targetVersion: string;
  /** Recorded peers keyed by ordinal ("0", "1", ...), or undefined when there is no record. */
  record: Record<string, RecordedIdentity> | undefined;
  observations: PeerObservation[];
  /** spec.replicas of the StatefulSet. */
  expectedReplicas: number;
  /** StatefulSet name for the remedies; default derived from the pod names, else "qdrant". */
  statefulset?: string;
  /** Qdrant's storage path inside the pod (default /qdrant/storage). */
  storagePath?: string;
  /** Where the archives are (default <storagePath>/.upgrade-guard). */
  archiveDir?: string;
  /** The Helm release (from the record): remedies then name the in-cluster restore-volume command. */
  release?: string;
  /** Subject of cluster-wide checks (default "cluster"). */
  subject?: string;
}

export const DEFAULT_STORAGE_PATH = QDRANT_STORAGE_PATH;
/** The guard reads peer_metadata from telemetry from this version on (docs/qdrant-facts.md#peer-metadata-api). */
export const PEER_METADATA_API_SINCE = QDRANT_VERSION_FACTS.peerMetadataApiSince;

/**
 * True where a stale own entry in peer_metadata_by_id is Qdrant's known behaviour, not a failure: a
 * single-peer cluster on 1.13.3 to 1.14.x never refreshes its own metadata (fixed in 1.15.0, docs/qdrant-facts.md#single-peer-stale-metadata).
 */
export function staleSelfMetadataIsExpected(version: string, peerCount: number): boolean {
  return peerCount === 1 && versionWithin(version, QDRANT_VERSION_FACTS.staleSelfMetadata);
}

export function assessConvergence(input: ConvergenceInput): Check[] {
  const target = parseVersion(input.targetVersion, 'target version');
  const subject = input.subject ?? 'cluster';
  const obs = sortByOrdinal(input.observations);
  const statefulset = input.statefulset ?? statefulsetOf(obs) ?? 'qdrant';
  const storagePath = input.storagePath ?? DEFAULT_STORAGE_PATH;
  const archiveDir = input.archiveDir ?? archiveDirOf(storagePath);
  const checks: Check[] = [...reachabilityChecks(obs, input.expectedReplicas, subject)];

  if (!input.record) {
    checks.push(
      check(
        CHECK_IDS.peerIdentity,
        'skip',
        subject,
        'no upgrade record: nothing to compare peer ids with (a fresh install, or helm test before the first guarded upgrade)',
        'each pod answers with the peer id recorded before the upgrade',
      ),
    );
  }
  const enabled = enabledPeers(obs);
  // Before 1.16 no pod can report peer metadata: one skip says so instead of one per pod.
  const noMetadataApi =
    enabled.length > 0 &&
    enabled.every((p) => !p.observation.peerMetadata && !versionAtLeast(p.observation.version?.version, PEER_METADATA_API_SINCE)) &&
    !versionAtLeast(target.version, PEER_METADATA_API_SINCE);
  if (noMetadataApi) {
    checks.push(
      check(
        CHECK_IDS.peerMetadata,
        'skip',
        subject,
        `peer metadata is read from ${PEER_METADATA_API_SINCE} on (docs/qdrant-facts.md#peer-metadata-api); versions come from GET / on each pod (peer.version)`,
        `every peer_metadata entry at ${target.version}`,
      ),
    );
  }
  for (const o of obs) {
    checks.push(versionCheck(o, target));
    if (input.record) checks.push(identityCheck(o, input.record, { statefulset, storagePath, archiveDir, ...(input.release ? { release: input.release } : {}) }));
    if (!noMetadataApi) checks.push(metadataCheck(o, target, enabled));
  }

  const answered = obs.filter(answers);
  if (answered.length > 0) {
    const disabled = answered.filter((o) => o.cluster!.status === 'disabled');
    checks.push(modeCheck(disabled, enabled, input.expectedReplicas, subject));
    if (enabled.length > 0) {
      checks.push(...consensusChecks(enabled, subject));
      const recordedIds = new Map<string, string>();
      for (const r of Object.values(input.record ?? {})) if (r.peerId) recordedIds.set(r.pod, r.peerId);
      checks.push(...membershipChecks(enabled, { expectedPeers: input.expectedReplicas, subject, observations: obs, recordedIds }));
    }
  }
  return checks;
}

function versionCheck(o: PeerObservation, target: SemVer): Check {
  const id = CHECK_IDS.peerVersion;
  const pod = o.endpoint.pod;
  const expected = target.version;
  if (!o.reachable) return check(id, 'skip', pod, `${pod} did not answer (see cluster.reachable)`, expected);
  const raw = o.version?.version;
  if (!raw) {
    return check(id, 'fail', pod, 'GET / reported no version', expected, `Read GET / on ${pod} by hand; a Qdrant that does not report its version is not the expected image.`);
  }
  const seen = readVersion(raw);
  if (!seen) {
    return check(id, 'fail', pod, `GET / reported "${raw}", not a semver version`, expected, `Check the image ${pod} runs (kubectl get pod ${pod} -o jsonpath='{.spec.containers[*].image}').`);
  }
  if (core(seen) === core(target)) {
    const label = seen.version !== target.version ? ` (label differs from ${target.version}: same release)` : '';
    return check(id, 'pass', pod, `${seen.version}${label}`, expected);
  }
  return check(
    id,
    'fail',
    pod,
    `${pod} runs ${seen.version}, target ${target.version}`,
    expected,
    `The rollout has not reached ${pod}, or its image is overridden: see rollout.complete and kubectl get pod ${pod} -o jsonpath='{.spec.containers[*].image}'.`,
  );
}

function identityCheck(
  o: PeerObservation,
  record: Record<string, RecordedIdentity>,
  ctx: { statefulset: string; storagePath: string; archiveDir: string; release?: string },
): Check {
  const id = CHECK_IDS.peerIdentity;
  const pod = o.endpoint.pod;
  const rec = record[String(o.endpoint.ordinal)];
  if (!rec) {
    return check(id, 'skip', pod, `no recorded peer id for ordinal ${o.endpoint.ordinal} (a replica added after pre-upgrade)`, 'a recorded peer id');
  }
  const expected = rec.peerId ? `peer ${rec.peerId} (recorded before the upgrade)` : 'a recorded peer id';
  if (!rec.peerId) {
    return check(id, 'skip', pod, `the volume was ${rec.classification ?? 'without state'} before the upgrade: no earlier identity to keep`, expected);
  }
  if (!answers(o)) return check(id, 'skip', pod, `${pod} did not answer (see cluster.reachable)`, expected);
  if (o.cluster!.status === 'disabled') {
    return check(id, 'skip', pod, 'cluster mode disabled: GET /cluster reports no peer id', expected);
  }
  const now = (o.cluster as EnabledCluster).peerId;
  if (now === rec.peerId) return check(id, 'pass', pod, `peer ${now}, as recorded`, expected);
  const restore = rec.archive
    ? restoreArchive({
        archivePath: `${ctx.archiveDir}/${rec.archive}`,
        storagePath: ctx.storagePath,
        statefulset: ctx.statefulset,
        pod,
        ...(ctx.release ? { release: ctx.release } : {}),
        ...(rec.pvc ? { pvc: rec.pvc } : {}),
      })
    : noArchive({ pod, ...(rec.pvc ? { pvc: rec.pvc } : {}), oldId: rec.peerId });
  return check(
    id,
    'fail',
    pod,
    `${pod} came back as peer ${now} instead of ${rec.peerId}: its raft state was lost (qdrant/qdrant#6229)`,
    expected,
    `${restore} ${removeMintedPeer(now)}`,
  );
}

function metadataCheck(o: PeerObservation, target: SemVer, enabled: readonly ReturnType<typeof enabledPeers>[number][]): Check {
  const id = CHECK_IDS.peerMetadata;
  const pod = o.endpoint.pod;
  const expected = `every peer_metadata entry at ${target.version}`;
  if (!answers(o)) return check(id, 'skip', pod, `${pod} did not answer (see cluster.reachable)`, expected);
  if (o.cluster!.status === 'disabled') return check(id, 'skip', pod, 'cluster mode disabled: no peer metadata', expected);
  const cluster = o.cluster as EnabledCluster;
  const running = o.version?.version;
  const runningVersion = readVersion(running);
  const runningCore = runningVersion ? versionCore(runningVersion) : undefined;
  if (!o.peerMetadata) {
    if (runningCore && versionAtLeast(runningCore, PEER_METADATA_API_SINCE)) {
      return check(
        id,
        'warn',
        pod,
        `${pod} runs ${runningCore} but its telemetry reported no peer_metadata: not verified`,
        expected,
        'Check that the API key the hook uses may read GET /telemetry?details_level=3.',
      );
    }
    return check(
      id,
      'skip',
      pod,
      `peer metadata is read from ${PEER_METADATA_API_SINCE} on (docs/qdrant-facts.md#peer-metadata-api); versions come from GET / on each pod (peer.version)`,
      expected,
    );
  }
  const peerCount = Object.keys(cluster.peers).length;
  const entries = Object.entries(o.peerMetadata).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1));
  const stale: string[] = [];
  const notes: string[] = [];
  for (const [peerId, meta] of entries) {
    const v = readVersion(meta.version);
    if (v && core(v) === core(target)) continue;
    const who = podOfPeer(peerId, enabled);
    const text = `peer ${peerId}${who ? ` (${who})` : ''} at ${meta.version}`;
    if (peerId === cluster.peerId && running && staleSelfMetadataIsExpected(running, peerCount)) {
      notes.push(`${text}: a single-peer cluster on ${running} never refreshes its own entry (docs/qdrant-facts.md#single-peer-stale-metadata), not a failure`);
    } else {
      stale.push(text);
    }
  }
  if (stale.length > 0) {
    return check(
      id,
      'fail',
      pod,
      `${pod} reports ${stale.join(', ')}; target ${target.version}`,
      expected,
      'A peer updates its entry once it runs the new version and the entry is committed. Wait and check again; if it never changes, that peer was not upgraded or its consensus stopped (see peer.version and cluster.consensus-thread).',
    );
  }
  const base = `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`;
  const observed = notes.length > 0 ? `${base}; ${notes.join('; ')}` : `${base}, all ${target.version}`;
  return check(id, 'pass', pod, observed, expected);
}

// ---------------------------------------------------------------------------------------------

const core = versionCore;

function statefulsetOf(obs: readonly PeerObservation[]): string | undefined {
  const m = obs.length > 0 ? /^(.+)-\d+$/.exec(obs[0]!.endpoint.pod) : null;
  return m ? m[1] : undefined;
}
