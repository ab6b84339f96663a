/**
 * One round of looking at the Qdrant StatefulSet after an upgrade, shared by post-upgrade and verify:
 * the pods, what Qdrant says on each, the #6229 signature in their logs, and the convergence verdict.
 */
import { check, type Check } from '../report.js';
import type { GuardError } from '../errors.js';
import { CHECK_IDS } from '../policy/check-ids.js';
import { assessConvergence } from '../policy/convergence.js';
import { LogLoopDetector, findingsToChecks, splitLogText } from '../policy/log-loop.js';
import { parseRecord, type GuardRecord } from '../policy/record.js';
import type { RolloutPod, RolloutSnapshot } from '../policy/rollout.js';
import type { PodSnapshot, StatefulSetSnapshot } from '../kube/types.js';
import type { PeerObservation } from '../qdrant/types.js';
import { endpointOf, observePods, podsOf, recordName, type ClusterDeps } from './cluster.js';
import { QDRANT_CONTAINER } from '../policy/layout.js';

/** Qdrant's container in the chart's pods (policy/layout.ts); its log is where the #6229 loop shows. */
export { QDRANT_CONTAINER };

/** How much of a pod's log is read per look: the loop prints hundreds of lines within seconds. */
const LOG_LIMIT_BYTES = 2 * 1024 * 1024;

export async function readGuardRecord(deps: ClusterDeps, release: string): Promise<GuardRecord | undefined> {
  const text = await deps.kube.readRecord(recordName(release));
  return text === undefined ? undefined : parseRecord(text);
}

export function recordedIdentities(record: GuardRecord | undefined) {
  if (!record) return undefined;
  return Object.fromEntries(
    Object.entries(record.peers).map(([ordinal, p]) => [
      ordinal,
      {
        pod: p.pod,
        peerId: p.peerId,
        version: p.version,
        pvc: p.pvc,
        ...(p.archive ? { archive: p.archive } : {}),
        classification: p.classification,
      },
    ]),
  );
}

/**
 * Reads each pod's Qdrant log (since `sinceTime` when given) and runs the #6229 detector over it with
 * what the record knows of that ordinal. Pods whose log cannot be read yet yield no checks.
 */
export async function scanPodLogs(
  deps: ClusterDeps,
  pods: PodSnapshot[],
  record: GuardRecord | undefined,
  sinceTime?: string,
): Promise<Check[]> {
  const perPod = await Promise.all(
    pods.map(async (pod) => {
      let text: string;
      try {
        text = await deps.kube.podLogs(pod.name, { container: QDRANT_CONTAINER, limitBytes: LOG_LIMIT_BYTES, ...(sinceTime ? { sinceTime } : {}) });
      } catch (err) {
        // Not being able to read the log is no verdict on the peer, but the reader must know the loop
        // detector was blind (a 403 names the missing pods/log right).
        const e = err as GuardError;
        return [
          check(CHECK_IDS.peerLogLoop, 'skip', `pod/${pod.name}`, `could not read the qdrant container's log: ${e.message}`,
            'the log read for the #6229 signature', e.remedy ?? ''),
        ];
      }
      if (!text) return [];
      const recorded = pod.ordinal === null ? undefined : record?.peers[String(pod.ordinal)];
      // "Initializing new raft state" is the incident only in a container started after the record said the
      // volume held a state; a pod that has not restarted since still shows its first start on a fresh volume.
      // startTime has 1 s resolution in the API: compare at that resolution.
      const startedAfterRecord = Boolean(
        record && pod.startTime && Date.parse(pod.startTime) >= Math.floor(Date.parse(record.createdAt) / 1000) * 1000,
      );
      const detector = new LogLoopDetector({
        pod: pod.name,
        recordedInitialized: recorded?.classification === 'initialized' && startedAfterRecord,
        ...(recorded?.peerId ? { recordedPeerId: recorded.peerId } : {}),
        ...(recorded?.archive ? { archive: recorded.archive } : {}),
        ...(record ? { statefulset: record.statefulset, release: record.release } : {}),
      });
      for (const line of splitLogText(text)) detector.push(line);
      return findingsToChecks(detector.findings(), `pod/${pod.name}`);
    }),
  );
  return perPod.flat();
}

export interface ClusterLook {
  sts: StatefulSetSnapshot;
  pods: PodSnapshot[];
  observations: PeerObservation[];
  convergence: Check[];
}

/**
 * Observes every pod and judges convergence to `targetVersion` against the record. A caller that has just read
 * the StatefulSet (and its pods) passes them in, so one round asks the API for each only once.
 */
export async function lookAtCluster(
  deps: ClusterDeps,
  statefulset: string,
  targetVersion: string,
  record: GuardRecord | undefined,
  known: { sts?: StatefulSetSnapshot; pods?: PodSnapshot[] } = {},
): Promise<ClusterLook> {
  const sts = known.sts ?? (await deps.kube.getStatefulSet(statefulset));
  const pods = known.pods ?? podsOf(sts, await deps.kube.listPods(sts.selector));
  const observations = await observePods(deps.qdrant, pods);
  const identities = recordedIdentities(record);
  const convergence = assessConvergence({
    targetVersion,
    record: identities,
    observations,
    expectedReplicas: sts.replicas,
    statefulset: sts.name,
    ...(record ? { release: record.release } : {}),
  });
  return { sts, pods, observations, convergence };
}

/** Maps the adapter's pod snapshots to the rollout policy's plain input, asking /readyz of pods not ready. */
export async function rolloutSnapshot(deps: ClusterDeps, sts: StatefulSetSnapshot, pods: PodSnapshot[]): Promise<RolloutSnapshot> {
  const rolloutPods: RolloutPod[] = await Promise.all(
    pods.map(async (p) => {
      const failedInit = p.initContainers.find((c) => c.state === 'terminated' && (c.exitCode ?? 0) !== 0)
        ?? p.initContainers.find((c) => c.lastTermination && (c.lastTermination.exitCode ?? 0) !== 0);
      const readyz = !p.ready && p.ip && p.phase === 'Running'
        ? await deps.qdrant.ready(endpointOf(p, deps.qdrant.reach)).then(
            (r) => ({ status: r.ready ? 200 : 503, text: r.text }),
            () => undefined,
          )
        : undefined;
      const initFailure = failedInit
        ? {
            container: failedInit.name,
            ...(failedInit.exitCode ?? failedInit.lastTermination?.exitCode) !== undefined
              ? { exitCode: (failedInit.exitCode ?? failedInit.lastTermination?.exitCode)! }
              : {},
            ...(failedInit.reason ?? failedInit.lastTermination?.reason) ? { reason: (failedInit.reason ?? failedInit.lastTermination?.reason)! } : {},
            ...(failedInit.message ?? failedInit.lastTermination?.message) ? { message: (failedInit.message ?? failedInit.lastTermination?.message)! } : {},
          }
        : undefined;
      const waiting = p.initContainers.find((c) => c.state === 'waiting' && c.reason && c.reason !== 'PodInitializing');
      const waitingReason = waiting ? `Init:${waiting.reason}` : p.waitingReason;
      return {
        name: p.name,
        ordinal: p.ordinal ?? -1,
        revision: p.revision,
        ready: p.ready,
        phase: p.phase,
        restarts: p.restarts,
        ...(readyz ? { readyz } : {}),
        ...(waitingReason ? { waitingReason } : {}),
        ...(initFailure ? { initFailure } : {}),
        ...(p.deletionTimestamp ? { terminating: true } : {}),
      };
    }),
  );
  return {
    statefulset: sts.name,
    replicas: sts.replicas,
    generation: sts.generation,
    observedGeneration: sts.observedGeneration,
    updateRevision: sts.updateRevision,
    currentRevision: sts.currentRevision,
    updatedReplicas: sts.updatedReplicas,
    readyReplicas: sts.readyReplicas,
    partition: sts.partition,
    updateStrategy: sts.updateStrategyType === 'OnDelete' ? 'OnDelete' : 'RollingUpdate',
    pods: rolloutPods,
  };
}
