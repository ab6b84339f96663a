/**
 * `pre-upgrade`: the hook Job that runs before Helm touches the release (docs/how-it-works.md#the-timeline-of-one-helm-upgrade). It refuses unsupported version jumps, degraded clusters and volumes whose raft state is lost or
 * corrupt, archives every volume's raft state through worker pods, optionally takes VolumeSnapshots, and
 * records what it saw so post-upgrade can check identities. Every check runs; the verdict comes at the end.
 */
import { parse as parseLossless } from 'lossless-json';
import { check, failureHeadline, verdictOf, type Check, type Report } from '../report.js';
import { RUNBOOKS, restoreVolumeCommand, runbook } from '../policy/remedies.js';
import { GuardError } from '../errors.js';
import { VERSION_CHECK_ID, decideVersionChange, parseVersion } from '../policy/version.js';
import { assessClusterHealth } from '../policy/cluster-health.js';
import { CHECK_IDS } from '../policy/check-ids.js';
import { VOLUME_STATE_CHECK_ID } from '../policy/volume-verdict.js';
import { serializeRecord, RECORD_CLASSIFICATIONS, type GuardRecord, type RecordPeer, type RecordClassification } from '../policy/record.js';
import { type PodSnapshot, type PvcSnapshot, type StatefulSetSnapshot, type WorkerPodSpec, type WorkerResult } from '../kube/types.js';
import type { TerminationSummary } from './volume.js';
import type { PeerObservation } from '../qdrant/types.js';
import { QDRANT_STORAGE_PATH, SNAPSHOTS_ARCHIVE_DIR } from '../policy/layout.js';
import {
  STORAGE_CLAIM,
  SNAPSHOTS_CLAIM,
  guardLabels,
  observePods,
  podsOf,
  recordName,
  versionOfImage,
  type ClusterDeps,
  type ClusterTarget,
} from './cluster.js';

export interface PreUpgradeOptions extends ClusterTarget {
  /** The version the upgrade goes to: the image tag, or upgradeGuard.targetVersion. */
  targetVersion: string;
  /** The guard image, run by the worker pods. */
  workerImage: string;
  workerImagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  allowVersionSkip: boolean;
  allowDegraded: boolean;
  /** Budget of the whole hook; the chart keeps activeDeadlineSeconds and Helm's --timeout above it. */
  timeoutSeconds: number;
  /** storage: <storage>/.upgrade-guard; snapshots: the snapshots volume (qdrant-snapshots PVC). */
  archiveLocation: 'storage' | 'snapshots';
  keep: number;
  /** Also take a CSI VolumeSnapshot of every storage PVC with this class. */
  volumeSnapshotClass?: string;
  /** The release revision being installed (Helm's .Release.Revision). */
  revision?: number;
}

/** Where the worker pods mount things (the same paths as the Qdrant container). */
const WORKER_STORAGE = QDRANT_STORAGE_PATH;
const WORKER_ARCHIVE_DIR_ON_SNAPSHOTS = SNAPSHOTS_ARCHIVE_DIR;
const TERMINATION_LOG = '/dev/termination-log';

export async function runPreUpgrade(opts: PreUpgradeOptions, deps: ClusterDeps): Promise<Report> {
  const { kube, qdrant, clock, progress } = deps;
  const started = clock.now();
  const deadline = started + opts.timeoutSeconds * 1000;
  const target = parseVersion(opts.targetVersion, 'target version (--target-version)').version;
  const checks: Check[] = [];
  const stsSubject = `statefulset/${opts.statefulset}`;

  // Step 2: discovery.
  const sts = await kube.getStatefulSet(opts.statefulset);
  const allPods = await kube.listPods(sts.selector);
  const pods = podsOf(sts, allPods);
  const pvcs = await kube.listPvcs(sts.selector);
  const storagePvcs = claimPvcs(pvcs, STORAGE_CLAIM, sts.name);
  const snapshotsPvcs = claimPvcs(pvcs, SNAPSHOTS_CLAIM, sts.name);
  progress.say(
    `pre-upgrade ${stsSubject} -> ${target}: ${pods.length} pod(s), ${storagePvcs.size} storage PVC(s), ${sts.replicas} replica(s) desired`,
  );

  // Step 3: the running version of each pod, from Qdrant itself where it answers.
  const observations = await observePods(qdrant, pods);
  const fallbackVersion = versionOfImage(sts.qdrantImage);
  const versions = new Map<number, string>();
  for (const o of observations) {
    const pod = pods.find((p) => p.name === o.endpoint.pod)!;
    const v = o.version?.version ?? versionOfImage(pod.images.qdrant ?? Object.values(pod.images)[0] ?? '') ?? fallbackVersion;
    if (v) versions.set(o.endpoint.ordinal, v);
    if (!o.version && v) {
      checks.push(
        check(CHECK_IDS.peerVersion, 'warn', `pod/${o.endpoint.pod}`, `version ${v} taken from the image tag: Qdrant did not answer GET / (${o.error ?? 'no answer'})`,
          'the version from GET / on the pod', 'Check that the pod is running; the image tag is only a hint of the version it runs.'),
      );
    }
  }

  // Step 4: version policy, from every version running now to the target.
  const fromVersions = [...new Set(versions.values())];
  if (fromVersions.length === 0 && fallbackVersion) fromVersions.push(fallbackVersion);
  if (fromVersions.length === 0) {
    checks.push(
      check(VERSION_CHECK_ID, 'fail', stsSubject, `no running version known: no pod answered and the image ${sts.qdrantImage} has no version tag`,
        'the version Qdrant runs now', 'Start the pods, or upgrade from an image whose tag is a version.'),
    );
  }
  for (const from of fromVersions) {
    checks.push(decideVersionChange({ from, to: target, allowVersionSkip: opts.allowVersionSkip, subject: stsSubject }).check);
  }

  // Step 5: cluster health, where pods answer.
  if (pods.length > 0) {
    checks.push(...assessClusterHealth(observations, { expectedPeers: sts.replicas, allowDegraded: opts.allowDegraded, subject: stsSubject }));
  }

  // Step 6: one worker per existing storage PVC, next to the pod that uses it, in parallel.
  const workerSpecs = [...storagePvcs.entries()].map(([ordinal, pvc]) =>
    workerSpec(opts, sts, ordinal, pvc, snapshotsPvcs.get(ordinal), pods, versions.get(ordinal) ?? fromVersions[0] ?? target, target),
  );
  const results = workerSpecs.length > 0 ? await kube.runWorkerPods(workerSpecs, { deadlineMs: deadline }) : [];
  const summaries = new Map<number, TerminationSummary>();
  results.forEach((result, i) => {
    const ordinal = [...storagePvcs.keys()][i]!;
    const pvc = storagePvcs.get(ordinal)!;
    // The in-cluster way back for a refused volume, with every value filled in (docs/operations.md).
    const restoreInCluster = `${restoreVolumeCommand({ namespace: kube.namespace, release: opts.release, statefulset: sts.name, ordinal })} --delete-running-pod`;
    const { check: c, summary } = workerCheck(result, pvc, `${sts.name}-${ordinal}`, restoreInCluster);
    checks.push(c);
    if (summary) summaries.set(ordinal, summary);
  });
  if (storagePvcs.size === 0) {
    checks.push(check(VOLUME_STATE_CHECK_ID, 'skip', stsSubject, 'no storage PVC exists yet (first install, or Argo CD PreSync)', 'a PVC per replica'));
  }

  // Step 7: optional CSI VolumeSnapshots, after the archives (the archive is the cheap, certain copy).
  const snapshots: Record<string, string> = {};
  if (opts.volumeSnapshotClass) {
    checks.push(...(await takeSnapshots(opts, deps, storagePvcs, deadline, snapshots)));
  }

  const verdict = verdictOf(checks, 'refuse');

  // Step 8: the record post-upgrade reads back. Written even on refusal: it says why, for `kubectl get cm`.
  const record: GuardRecord = {
    schemaVersion: 1,
    release: opts.release,
    revision: opts.revision ?? 0,
    statefulset: sts.name,
    fromVersion: fromVersions.length === 1 ? fromVersions[0]! : fromVersions.join(','),
    toVersion: target,
    createdAt: new Date(clock.now()).toISOString(),
    peers: Object.fromEntries(
      [...storagePvcs.entries()].map(([ordinal, pvc]) => {
        const s = summaries.get(ordinal);
        const peer: RecordPeer = {
          pod: `${sts.name}-${ordinal}`,
          pvc: pvc.name,
          peerId: s?.peerId ?? observedPeerId(observations, ordinal) ?? null,
          term: s?.term ?? null,
          commit: s?.commit ?? null,
          version: versions.get(ordinal) ?? '',
          classification: recordClassification(s?.classification),
          ...(s?.archive ? { archive: s.archive } : {}),
          ...(s?.sha256 ? { sha256: s.sha256 } : {}),
          ...(snapshots[pvc.name] ? { volumeSnapshot: snapshots[pvc.name] } : {}),
        };
        return [String(ordinal), peer];
      }),
    ),
    verdicts: { preUpgrade: verdict },
  };
  // A new upgrade starts a new record. A staged rollout that stopped is not carried over: pods already on
  // the new revision stay there and are verified again, which is what a retried upgrade should do.
  await kube.updateRecord(recordName(opts.release), () => serializeRecord(record), guardLabels(opts.release));

  // Step 9: an Event on the StatefulSet, what `kubectl describe sts` shows the on-call person.
  const failed = checks.filter((c) => c.status === 'fail');
  const summary =
    verdict === 'pass'
      ? `upgrade of ${stsSubject} from ${fromVersions.join(', ') || '?'} to ${target} may proceed: ${summaries.size} volume(s) archived, ${checks.filter((c) => c.status === 'warn').length} warning(s)`
      : `upgrade of ${stsSubject} to ${target} refused: ${failureHeadline(failed)}`;
  await kube
    .emitEvent({
      involved: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: sts.name, uid: sts.uid },
      type: verdict === 'pass' ? 'Normal' : 'Warning',
      reason: verdict === 'pass' ? 'UpgradeGuardPassed' : 'UpgradeRefused',
      message: summary.slice(0, 1000),
    })
    .catch((err: unknown) => {
      // The verdict stands without its Event; say so rather than fail the hook over a notification.
      checks.push(check('guard.event', 'warn', stsSubject, `could not emit the Event: ${(err as Error).message}`, 'an Event on the StatefulSet',
        err instanceof GuardError ? err.remedy : ''));
    });

  return {
    schemaVersion: 1,
    command: 'pre-upgrade',
    verdict,
    summary,
    checks,
    details: {
      namespace: kube.namespace,
      statefulset: sts.name,
      targetVersion: target,
      fromVersions,
      record,
      elapsedMs: clock.now() - started,
      apiRequests: kube.requestCount(),
    },
  };
}

/** PVCs of one claim template, by ordinal: `<claim>-<sts>-<ordinal>`. */
function claimPvcs(pvcs: PvcSnapshot[], claim: string, sts: string): Map<number, PvcSnapshot> {
  const byOrdinal = new Map<number, PvcSnapshot>();
  const prefix = `${claim}-${sts}-`;
  for (const pvc of pvcs) {
    if (!pvc.name.startsWith(prefix)) continue;
    const rest = pvc.name.slice(prefix.length);
    if (/^(0|[1-9]\d*)$/.test(rest)) byOrdinal.set(Number(rest), pvc);
  }
  return new Map([...byOrdinal.entries()].sort((a, b) => a[0] - b[0]));
}

function workerSpec(
  opts: PreUpgradeOptions,
  sts: StatefulSetSnapshot,
  ordinal: number,
  pvc: PvcSnapshot,
  snapshotsPvc: PvcSnapshot | undefined,
  pods: PodSnapshot[],
  from: string,
  to: string,
): WorkerPodSpec {
  const pod = `${sts.name}-${ordinal}`;
  const onSnapshots = opts.archiveLocation === 'snapshots' && snapshotsPvc !== undefined;
  const args = [
    'volume',
    '--storage', WORKER_STORAGE,
    '--from', from,
    '--to', to,
    '--pod', pod,
    '--keep', String(opts.keep),
    '--output', 'json',
    '--termination-message-path', TERMINATION_LOG,
    ...(onSnapshots ? ['--archive-dir', WORKER_ARCHIVE_DIR_ON_SNAPSHOTS] : []),
    ...(opts.allowVersionSkip ? ['--allow-version-skip'] : []),
  ];
  const running = pods.some((p) => p.name === pod && !p.deletionTimestamp);
  return {
    name: `${sts.name}-guard-worker-${ordinal}`,
    image: opts.workerImage,
    ...(opts.workerImagePullPolicy ? { imagePullPolicy: opts.workerImagePullPolicy } : {}),
    command: ['qdrant-upgrade-guard'],
    args,
    storagePvc: pvc.name,
    ...(onSnapshots ? { snapshotsPvc: snapshotsPvc.name } : {}),
    ...(running ? { colocateWith: pod } : {}),
    placement: sts.podSpec,
    labels: { 'app.kubernetes.io/instance': opts.release },
  };
}

/** Turns one worker's outcome into the volume check of its PVC. */
function workerCheck(result: WorkerResult, pvc: PvcSnapshot, pod: string, restoreInCluster?: string): { check: Check; summary?: TerminationSummary } {
  const subject = `pvc/${pvc.name} (${pod})`;
  const summary = parseSummary(result.terminationMessage);
  if (result.phase === 'Timeout' || result.phase === 'Evicted') {
    return {
      check: check(VOLUME_STATE_CHECK_ID, 'fail', subject, `worker ${result.podName} did not finish: ${result.phase}: ${result.reason}`,
        'the worker reports the volume verdict',
        result.phase === 'Timeout'
          ? 'Check why the worker could not run (kubectl describe pod); raise upgradeGuard.preUpgrade.timeoutSeconds if the volume is large.'
          : 'The node evicted the worker twice; check node pressure and retry the upgrade.'),
    };
  }
  if (!summary) {
    return {
      check: check(VOLUME_STATE_CHECK_ID, 'fail', subject,
        `worker ${result.podName} ended ${result.phase} (exit ${result.exitCode ?? '?'}) without a verdict: ${(result.terminationMessage ?? result.reason).slice(0, 300)}`,
        'a JSON verdict in the termination message', 'Read the worker log (kubectl logs) and fix what it says; then retry the upgrade.'),
    };
  }
  if (summary.verdict !== 'pass' && (summary.classification === 'initialized' || summary.classification === 'fresh')) {
    // The volume is sound; the worker refused for the version change it was told about, which the
    // coordinator reports once as version.policy. Saying "volume refused" here would send people to the wrong fix.
    return {
      check: check(VOLUME_STATE_CHECK_ID, 'pass', subject,
        `${summary.classification}${summary.peerId ? `, peer ${summary.peerId} term ${summary.term ?? '?'} commit ${summary.commit ?? '?'}` : ''}; not archived because the version change was refused (see version.policy)`,
        'a valid raft state, or a fresh volume'),
      summary,
    };
  }
  if (summary.verdict === 'pass') {
    const what = summary.classification === 'fresh'
      ? 'fresh volume, nothing to archive'
      : `${summary.classification}, peer ${summary.peerId ?? '?'} term ${summary.term ?? '?'} commit ${summary.commit ?? '?'}${summary.archive ? `, archived to ${summary.archive}` : ''}`;
    return { check: check(VOLUME_STATE_CHECK_ID, 'pass', subject, what, 'a valid raft state, or a fresh volume'), summary };
  }
  return {
    check: check(VOLUME_STATE_CHECK_ID, 'fail', subject, `${summary.classification ?? 'unknown'}: ${summary.reason}`,
      'a valid raft_state.json on a used volume',
      // First the in-cluster restore an operator runs from a laptop; then the worker's own remedy, which names the
      // archive as a pod mounting the volume sees it; a worker without the field gets the runbook.
      `${restoreInCluster ? `From a laptop with a kubeconfig: \`${restoreInCluster}\` (it deletes only that pod so its startup check holds it, restores the newest intact archive in a worker pod and checks the peer id; docs/operations.md#restore-a-volume-in-the-cluster). Or by hand, in a pod mounting the volume: ` : ''}` +
        (summary.remedy
          ? `${summary.remedy} Then retry the upgrade.`
          : `Restore the newest archive of this volume while Qdrant is stopped on it, then retry the upgrade (${runbook(RUNBOOKS.lostState)}).`)),
    summary,
  };
}

/** The worker's summary: peer ids are u64, so it is parsed losslessly and ids stay strings. */
function parseSummary(text: string | undefined): TerminationSummary | undefined {
  if (!text || !text.trim().startsWith('{')) return undefined;
  try {
    const raw = parseLossless(text, undefined, (n: string) => n) as Record<string, unknown>;
    const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
    if (typeof raw.verdict !== 'string') return undefined;
    return {
      verdict: raw.verdict as TerminationSummary['verdict'],
      classification: str(raw.classification),
      peerId: str(raw.peerId),
      term: str(raw.term),
      commit: str(raw.commit),
      archive: str(raw.archive),
      sha256: str(raw.sha256),
      reason: String(raw.reason ?? ''),
      ...(typeof raw.remedy === 'string' && raw.remedy !== '' ? { remedy: raw.remedy } : {}),
    };
  } catch {
    return undefined;
  }
}

function observedPeerId(observations: PeerObservation[], ordinal: number): string | undefined {
  const c = observations.find((o) => o.endpoint.ordinal === ordinal)?.cluster;
  return c && c.status === 'enabled' ? c.peerId : undefined;
}

function recordClassification(c: string | null | undefined): RecordClassification {
  return (RECORD_CLASSIFICATIONS as readonly string[]).includes(c ?? '') ? (c as RecordClassification) : 'unknown';
}

async function takeSnapshots(
  opts: PreUpgradeOptions,
  deps: ClusterDeps,
  pvcs: Map<number, PvcSnapshot>,
  deadline: number,
  names: Record<string, string>,
): Promise<Check[]> {
  const stamp = new Date(deps.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase();
  const created = await Promise.all(
    [...pvcs.values()].map(async (pvc) => {
      const name = `${pvc.name}-pre-upgrade-${stamp}`.slice(0, 253);
      await deps.kube.createVolumeSnapshot({ pvc: pvc.name, className: opts.volumeSnapshotClass!, name, labels: guardLabels(opts.release) });
      return { pvc, name };
    }),
  );
  const results = await Promise.all(created.map(async (c) => ({ ...c, result: await deps.kube.waitVolumeSnapshotReady(c.name, deadline) })));
  return results.map(({ pvc, name, result }) => {
    if (result.state === 'ready') names[pvc.name] = name;
    return result.state === 'ready'
      ? check('volume.snapshot', 'pass', `pvc/${pvc.name}`, `VolumeSnapshot ${name} ready${result.restoreSize ? ` (${result.restoreSize})` : ''}`, 'readyToUse')
      : check('volume.snapshot', 'fail', `pvc/${pvc.name}`, `VolumeSnapshot ${name} ${result.state}: ${result.message}`, 'readyToUse before the deadline',
          `Check the CSI driver and VolumeSnapshotClass ${opts.volumeSnapshotClass} (kubectl describe volumesnapshot ${name}), or unset upgradeGuard.volumeSnapshotClassName.`);
  });
}

