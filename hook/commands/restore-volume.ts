/**
 * `restore-volume --release R --statefulset S --ordinal N [--archive NAME | --latest]`: put an archived raft state
 * back on one Qdrant PVC from a laptop with a kubeconfig (docs/operations.md#restore-a-volume-in-the-cluster).
 *
 * How Qdrant is kept off the volume while it is restored: the startup check. A volume that lost its raft state
 * (qdrant/qdrant#6229) makes the startup-check init container refuse, so the Qdrant container of that pod never
 * starts and the StatefulSet keeps the pod there, holding nothing. restore-volume only proceeds when it sees that
 * (or no pod at all, an ordinal at or above the replica count), and refuses while the Qdrant container runs: a
 * restore under a running peer would be overwritten by its next state write. Scaling the StatefulSet down is not
 * used: below the restored ordinal it would stop healthy peers, and at ordinal 0 all of them. Deleting the pod
 * alone does not hold it either, since the controller recreates it at once; but when the volume lost its state while
 * Qdrant ran on it (what pre-upgrade finds), `--delete-running-pod` deletes just that pod, and the recreated pod is
 * held by its startup check. If the check lets it start instead, the volume holds a valid state and nothing is done.
 *
 * Then it runs the pre-upgrade worker (hook/kube/workers.ts: no service-account token, Qdrant's uid, read-only root,
 * next to the held pod) with `restore`, so every check restore has runs on the volume itself; deletes the held pod
 * so it restarts at once with its state back; and waits for the peer to answer under its recorded peer id.
 */
import path from 'node:path';
import { parse as parseLossless } from 'lossless-json';
import { check, verdictOf, type Check, type Report } from '../report.js';
import { listArchives } from '../archive/list.js';
import { podIdentity } from '../archive/name.js';
import { scanArchive } from '../archive/read.js';
import { runRestore } from './restore.js';
import { usageError } from '../errors.js';
import { parseRecord, type GuardRecord } from '../policy/record.js';
import { pvcName, type PodSnapshot, type WorkerPodSpec } from '../kube/types.js';
import { STARTUP_CHECK_CONTAINER } from '../policy/rollout.js';
import { restoreVolumeCommand } from '../policy/remedies.js';
import { QDRANT_STORAGE_PATH, SNAPSHOTS_ARCHIVE_DIR, archiveDirOf } from '../policy/layout.js';
import { SNAPSHOTS_CLAIM, STORAGE_CLAIM, endpointOf, podsOf, recordName, type ClusterDeps, type ClusterTarget } from './cluster.js';

export interface RestoreVolumeOptions extends ClusterTarget {
  ordinal: number;
  /** Archive file name (raft-<sts>-<ordinal>-...tar.gz); exclusive with latest. */
  archive?: string;
  /** The newest archive of this ordinal on the volume whose checksums hold (the worker picks it). */
  latest?: boolean;
  /** Where the archives are: the storage volume (default) or the snapshots volume. */
  archiveLocation: 'storage' | 'snapshots';
  /** The worker's image; default the startup check's image on the StatefulSet. */
  workerImage?: string;
  allowPeerChange?: boolean;
  /**
   * When Qdrant still runs on the volume (its state was lost on disk while it ran, as pre-upgrade finds it): delete
   * that one pod so the StatefulSet recreates it and its startup check holds it; refused if the check lets it start.
   */
  deleteRunningPod?: boolean;
  timeoutSeconds: number;
}

const STORAGE = QDRANT_STORAGE_PATH;
const ARCHIVE_DIRS = { storage: archiveDirOf(QDRANT_STORAGE_PATH), snapshots: SNAPSHOTS_ARCHIVE_DIR } as const;
const POLL_MS = 1000;
const ARCHIVE_NAME = /^raft-[A-Za-z0-9.-]+\.tar\.gz$/;

/** The command an operator runs, with the values filled in (hook/policy/remedies.ts words it once). */
export { restoreVolumeCommand };

export async function runRestoreVolume(opts: RestoreVolumeOptions, deps: ClusterDeps): Promise<Report> {
  const { kube, qdrant, clock, progress } = deps;
  const started = clock.now();
  const deadline = started + opts.timeoutSeconds * 1000;
  if (!Number.isInteger(opts.ordinal) || opts.ordinal < 0) throw usageError(`--ordinal must be a whole number >= 0, got ${opts.ordinal}`);
  if (!!opts.archive === !!opts.latest) throw usageError('name the archive: --archive <file name> or --latest (the one the record names)');
  if (opts.archive && !ARCHIVE_NAME.test(opts.archive)) {
    throw usageError(`--archive takes an archive file name like raft-${opts.statefulset}-${opts.ordinal}-1.13.4-to-1.13.5-20250101T000000Z.tar.gz, got ${opts.archive}`);
  }
  const checks: Check[] = [];
  const podName = `${opts.statefulset}-${opts.ordinal}`;
  const subject = `pod/${podName}`;
  const again = restoreVolumeCommand({ namespace: kube.namespace, ...opts });
  const finish = (summaryPass: string): Report => {
    // Refused: nothing was touched. Failed: the worker ran, so the volume may have changed.
    const verdict = verdictOf(checks, checks.some((c) => c.id === 'restore-volume.worker') ? 'fail' : 'refuse');
    const failed = checks.find((c) => c.status === 'fail');
    return {
      schemaVersion: 1,
      command: 'restore-volume',
      verdict,
      summary: verdict === 'pass' ? summaryPass : `${failed!.id} on ${failed!.subject}: ${failed!.observed}`,
      checks,
      details: { namespace: kube.namespace, statefulset: opts.statefulset, ordinal: opts.ordinal, elapsedMs: clock.now() - started },
    };
  };

  const sts = await kube.getStatefulSet(opts.statefulset);
  const record = parseRecordOrUndefined(await kube.readRecord(recordName(opts.release)));
  const recorded = record?.peers[String(opts.ordinal)];

  // 1. Which archive: the one named, or (--latest) the newest verified archive of this ordinal on the volume, which
  // only the worker can see. Not the record's: a refused pre-upgrade rewrites the record without the archive.

  // 2. No Qdrant container on the volume.
  const pods = podsOf(sts, await kube.listPods(sts.selector));
  let pod = pods.find((p) => p.name === podName && !p.deletionTimestamp);
  let held = heldState(pod);
  if (!held.held && pod && opts.deleteRunningPod) {
    progress.say(`${held.why}: deleting ${podName} so that its startup check holds the recreated pod`);
    await kube.deletePod(podName, 30);
    const next = await waitForHold(deps, sts.selector, podName, pod.uid, deadline);
    pod = next.pod;
    held = next.held;
  }
  if (!held.held) {
    checks.push(check('restore-volume.held', 'fail', subject, held.why, 'no Qdrant container running on the volume',
      `restore-volume only restores a volume Qdrant does not use: a running peer rewrites raft_state.json. If this peer lost its identity, ` +
        `its state file must be gone or corrupt for the startup check to hold it (docs/runbooks.md#restore-an-archive); ` +
        `if its volume lost raft_state.json while it ran, add --delete-running-pod: ${again} --delete-running-pod.`));
    return finish('');
  }
  checks.push(check('restore-volume.held', 'pass', subject, held.why, 'no Qdrant container running on the volume'));

  // 3. The worker: `restore` on the PVC, every check restore has.
  const image = opts.workerImage ?? sts.guardImage;
  if (!image) throw usageError(`StatefulSet ${sts.name} has no startup-check container to take the guard image from: pass --worker-image`);
  const snapshotsPvc = opts.archiveLocation === 'snapshots' ? pvcName(SNAPSHOTS_CLAIM, sts.name, opts.ordinal) : undefined;
  const spec: WorkerPodSpec = {
    name: `${sts.name}-guard-restore-${opts.ordinal}`,
    image,
    command: ['qdrant-upgrade-guard'],
    args: [
      WORKER_COMMAND, '--storage', STORAGE, '--archive-dir', ARCHIVE_DIRS[opts.archiveLocation], '--pod', podName,
      ...(opts.archive ? ['--archive', opts.archive] : []),
      ...(opts.allowPeerChange ? ['--allow-peer-change'] : []),
      '--termination-message-path', '/dev/termination-log',
    ],
    storagePvc: pvcName(STORAGE_CLAIM, sts.name, opts.ordinal),
    ...(snapshotsPvc ? { snapshotsPvc } : {}),
    ...(pod ? { colocateWith: podName } : {}),
    placement: sts.podSpec,
    labels: { 'app.kubernetes.io/instance': opts.release },
  };
  const wanted = opts.archive ?? `the newest verified archive of ${podName}${recorded?.archive ? ` (the record names ${recorded.archive})` : ''}`;
  progress.say(`restoring ${wanted} onto pvc/${spec.storagePvc} with worker ${spec.name}`);
  const [result] = await kube.runWorkerPods([spec], { deadlineMs: deadline });
  const summary = parseWorkerSummary(result?.terminationMessage);
  if (summary?.archive) checks.push(check('restore-volume.archive', 'pass', subject, `${summary.archive}${opts.archive ? '' : ' (the newest verified archive of this ordinal on the volume)'}`, 'an archive to restore'));
  else if (summary?.verdict === 'refuse' && !summary.archive) {
    checks.push(check('restore-volume.archive', 'fail', subject, summary.summary, 'an archive to restore',
      `List the volume's archives (docs/runbooks.md#list-and-check-archives), then name one: ${restoreVolumeCommand({ namespace: kube.namespace, ...opts, archive: `raft-${opts.statefulset}-${opts.ordinal}-<from>-to-<to>-<time>.tar.gz` })}.`));
    return finish('');
  }
  if (!result || result.phase !== 'Succeeded') {
    const why = summary?.summary ?? (result?.terminationMessage ? result.terminationMessage.trim().split('\n').slice(-6).join(' | ') : '');
    checks.push(check('restore-volume.worker', 'fail', `pvc/${spec.storagePvc}`,
      `worker ${result?.podName ?? spec.name} ${result?.phase ?? 'gave no result'}: ${result?.reason ?? ''}${why ? `: ${why}` : ''}`,
      'restore passes every check and reads back as the archived peer',
      `Nothing on the volume changed unless restore.applied failed. Fix the cause, then run ${again} (docs/runbooks.md#restore-an-archive).`));
    return finish('');
  }
  const archive = summary?.archive ?? opts.archive ?? '(archive not reported)';
  checks.push(check('restore-volume.worker', 'pass', `pvc/${spec.storagePvc}`, `worker ${result.podName} restored ${archive}`, 'restore passes every check'));

  // 4. Bring the peer back and check who answers.
  if (!pod) {
    checks.push(check('restore-volume.peer', 'skip', subject, `no pod ${podName} (the StatefulSet has ${sts.replicas} replicas)`, 'the peer answers under its recorded id',
      `Scale the StatefulSet to include ordinal ${opts.ordinal}; helm test then verifies the peer.`));
    return finish(`restored ${archive} onto pvc/${spec.storagePvc}; ${podName} is not running`);
  }
  await kube.deletePod(podName, 0);
  const expectId = recorded?.peerId || undefined;
  const peer = await waitForPeer(deps, sts.selector, podName, pod.uid, deadline);
  if (!peer.pod) {
    checks.push(check('restore-volume.peer', 'fail', subject, `not ready before the deadline: ${peer.why}`, 'the peer back, ready',
      `kubectl describe pod ${podName} -n ${kube.namespace}; when it is ready, helm test ${opts.release} verifies it.`));
    return finish('');
  }
  try {
    const status = await qdrant.cluster(endpointOf(peer.pod, qdrant.reach));
    const got = status.status === 'enabled' ? status.peerId : undefined;
    if (expectId && got !== expectId) {
      checks.push(check('restore-volume.peer', 'fail', subject, `answers as peer ${got ?? '(cluster mode off)'}`, `peer ${expectId} (the record)`,
        `The volume holds another identity than recorded; read docs/runbooks.md#new-peer-id before anything else.`));
    } else {
      checks.push(check('restore-volume.peer', expectId ? 'pass' : 'warn', subject, `ready, answers as peer ${got ?? '(cluster mode off)'}`,
        expectId ? `peer ${expectId} (the record)` : 'the recorded peer id (there is no record to compare with)'));
    }
  } catch (err) {
    checks.push(check('restore-volume.peer', 'fail', subject, `ready, but GET /cluster failed: ${(err as Error).message}`, 'the peer answers under its recorded id',
      `From a laptop the pod IP may not be reachable: run helm test ${opts.release} (it verifies every peer from inside the cluster).`));
  }
  return finish(`restored ${archive} onto pvc/${spec.storagePvc}; ${podName} is back as peer ${expectId ?? '(unrecorded)'}`);
}

/** The worker command restore-volume runs in its pod (the same image). */
export const WORKER_COMMAND = 'restore-volume-worker';

export interface RestoreVolumeWorkerOptions {
  storage: string;
  archiveDir: string;
  /** `<statefulset>-<ordinal>`: whose archives --latest picks from. */
  pod: string;
  archive?: string;
  allowPeerChange?: boolean;
}

/**
 * Inside the worker pod: picks the archive (the one named, or the newest of this pod whose checksums hold), then
 * runs `restore` with every check it has. The report carries the archive name for the termination message.
 */
export async function runRestoreVolumeWorker(opts: RestoreVolumeWorkerOptions): Promise<Report> {
  let file: string | undefined;
  const skipped: string[] = [];
  if (opts.archive) {
    if (opts.archive.includes('/') || !ARCHIVE_NAME.test(opts.archive)) throw usageError(`--archive takes an archive file name, got ${opts.archive}`);
    file = path.join(opts.archiveDir, opts.archive);
  } else {
    for (const a of await listArchives(opts.archiveDir, podIdentity(opts.pod))) {
      if ((await scanArchive(a.path)).ok) {
        file = a.path;
        break;
      }
      skipped.push(a.name);
    }
  }
  if (!file) {
    const observed = `no archive of ${opts.pod} in ${opts.archiveDir}${skipped.length ? ` passes its checksums (${skipped.join(', ')})` : ''}`;
    return {
      schemaVersion: 1,
      command: WORKER_COMMAND,
      verdict: 'refuse',
      summary: observed,
      checks: [check('restore-volume.archive', 'fail', opts.pod, observed, 'an intact archive of this pod', 'docs/runbooks.md#no-archive-to-restore')],
    };
  }
  // The pod name turns on restore's identity checks (the archive's recorded pod, the address of its peer); an archive
  // dir on the snapshots volume also counts as this volume's own archives.
  const ownDir = path.resolve(opts.archiveDir) === path.resolve(archiveDirOf(opts.storage));
  const restored = await runRestore({
    archive: file,
    storage: opts.storage,
    pod: opts.pod,
    ...(ownDir ? {} : { archiveDir: opts.archiveDir }),
    ...(opts.allowPeerChange ? { allowPeerChange: true } : {}),
  });
  const name = path.basename(file);
  return {
    ...restored,
    command: WORKER_COMMAND,
    checks: [check('restore-volume.archive', 'pass', opts.pod, `${name}${skipped.length ? ` (newer ones failed their checksums: ${skipped.join(', ')})` : ''}`, 'an intact archive of this pod'), ...restored.checks],
    details: { ...(restored.details ?? {}), archiveName: name },
  };
}

/** The worker's termination message: compact JSON, under Kubernetes' 4 KiB. */
export function workerSummary(report: Report | undefined, error?: { message: string }): string {
  const archive = report?.details?.['archiveName'];
  const out = {
    verdict: report?.verdict ?? 'error',
    ...(typeof archive === 'string' ? { archive } : {}),
    summary: (report?.summary ?? error?.message ?? '').slice(0, 3000),
  };
  return JSON.stringify(out);
}

function parseWorkerSummary(text: string | undefined): { verdict: string; archive?: string; summary: string } | undefined {
  if (!text || !text.trim().startsWith('{')) return undefined;
  try {
    // Lossless: a summary may quote a peer id; nothing here is read as a number.
    const v = parseLossless(text) as { verdict?: unknown; archive?: unknown; summary?: unknown };
    if (typeof v.verdict !== 'string') return undefined;
    return { verdict: v.verdict, ...(typeof v.archive === 'string' ? { archive: v.archive } : {}), summary: typeof v.summary === 'string' ? v.summary : '' };
  } catch {
    return undefined;
  }
}

/** After deleting a running pod: its successor held by the startup check, or running Qdrant again, or the deadline. */
async function waitForHold(deps: ClusterDeps, selector: Record<string, string>, name: string, oldUid: string, deadline: number): Promise<{ pod?: PodSnapshot; held: { held: boolean; why: string } }> {
  for (;;) {
    const p = (await deps.kube.listPods(selector)).find((x) => x.name === name && x.uid !== oldUid && !x.deletionTimestamp);
    if (p) {
      const h = heldState(p);
      if (h.held) return { pod: p, held: h };
      if (p.containers.some((c) => c.name === 'qdrant' && c.state === 'running')) {
        return { pod: p, held: { held: false, why: `the recreated ${name} passed its startup check and runs Qdrant again: its volume holds a valid raft state` } };
      }
    }
    if (deps.clock.now() >= deadline) return { ...(p ? { pod: p } : {}), held: { held: false, why: `the recreated ${name} was not held by its startup check before the deadline` } };
    await deps.clock.sleep(POLL_MS);
  }
}

/** Held: the pod is absent, or its Qdrant container is not running and the startup check is not letting it start. */
export function heldState(pod: PodSnapshot | undefined): { held: boolean; why: string } {
  if (!pod) return { held: true, why: 'no pod uses the volume' };
  const qdrant = pod.containers.find((c) => c.name === 'qdrant');
  if (qdrant?.state === 'running') return { held: false, why: `the qdrant container of ${pod.name} is running` };
  const startup = pod.initContainers.find((c) => c.name === STARTUP_CHECK_CONTAINER);
  if (!startup) return { held: false, why: `${pod.name} has no startup check to hold it, and its qdrant container may start any moment` };
  // Once the check has refused, a retry (running, or waiting in back-off) refuses again until the state is back:
  // the qdrant container cannot start before the init container succeeds.
  const refusedNow = startup.state === 'terminated' && startup.exitCode !== undefined && startup.exitCode !== 0;
  const refusedBefore = startup.lastTermination?.exitCode !== undefined && startup.lastTermination.exitCode !== 0;
  const passed = startup.state === 'terminated' && startup.exitCode === 0;
  if (passed || !(refusedNow || refusedBefore)) {
    return { held: false, why: `the startup check of ${pod.name} has not refused the volume (${startup.state}${startup.reason ? `, ${startup.reason}` : ''}): Qdrant may start` };
  }
  const msg = startup.message ?? startup.lastTermination?.message;
  return { held: true, why: `held by the startup check (${startup.reason ?? startup.state}${msg ? `: ${msg.slice(0, 160)}` : ''}); qdrant never started` };
}

async function waitForPeer(deps: ClusterDeps, selector: Record<string, string>, name: string, oldUid: string, deadline: number): Promise<{ pod?: PodSnapshot; why: string }> {
  let why = 'not seen yet';
  let lastSay = deps.clock.now();
  for (;;) {
    const p = (await deps.kube.listPods(selector)).find((x) => x.name === name);
    if (p && p.uid !== oldUid && p.ready && p.ip) return { pod: p, why: 'ready' };
    why = p ? `${p.phase}${p.waitingReason ? `, ${p.waitingReason}` : ''}${p.uid === oldUid ? ' (the old pod)' : ''}` : 'no pod';
    if (deps.clock.now() >= deadline) return { why };
    if (deps.clock.now() - lastSay >= 10_000) {
      lastSay = deps.clock.now();
      deps.progress.say(`waiting for ${name} to come back: ${why}`);
    }
    await deps.clock.sleep(POLL_MS);
  }
}

function parseRecordOrUndefined(text: string | undefined): GuardRecord | undefined {
  if (!text) return undefined;
  try {
    return parseRecord(text);
  } catch {
    return undefined;
  }
}
