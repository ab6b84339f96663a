/**
 * The staged rollout (docs/how-it-works.md#the-timeline-of-one-helm-upgrade): the chart renders rollingUpdate.partition at replicas,
 * so applying the new revision restarts nothing; here the partition comes down one ordinal at a time,
 * highest first, and each peer is verified (identity, version, consensus, shards, no #6229 loop) before
 * the next. The first failure stops with the remaining peers on the old version, still serving.
 * The decisions are policy/staged-rollout.ts; this file observes, acts and records the step reached.
 */
import { GuardError } from '../errors.js';
import { check, type Check } from '../report.js';
import { CHECK_IDS } from '../policy/check-ids.js';
import { RUNBOOKS, runbook } from '../policy/remedies.js';
import { assessRollout } from '../policy/rollout.js';
import { serializeRecord, parseRecord, type GuardRecord, type StagedRolloutState } from '../policy/record.js';
import { describeStagedStep, nextStagedStep, stagedStateAfter, type PeerVerdict, type StagedInput } from '../policy/staged-rollout.js';
import { guardLabels, podsOf, recordName, type ClusterDeps } from './cluster.js';
import { lookAtCluster, rolloutSnapshot, scanPodLogs } from './observe-cluster.js';
import { POLL_MS, PROGRESS_EVERY_MS, waitForConvergence, type PostUpgradeOptions } from './rollout-wait.js';

/** Cluster-wide checks that must hold while versions are mixed; version agreement waits for the end. */
const CONSENSUS_IDS = new Set<string>([
  CHECK_IDS.clusterReachable,
  CHECK_IDS.clusterLeader,
  CHECK_IDS.clusterTerm,
  CHECK_IDS.clusterCommit,
  CHECK_IDS.clusterPending,
  CHECK_IDS.clusterConsensusThread,
  CHECK_IDS.clusterShards,
  CHECK_IDS.clusterMembership,
]);

interface StagedContext {
  target: string;
  record: GuardRecord | undefined;
  deadline: number;
  sinceTime?: string;
}

export async function runStagedRollout(opts: PostUpgradeOptions, deps: ClusterDeps, ctx: StagedContext): Promise<Check[]> {
  const { kube, clock, progress } = deps;
  const perPeerMs = (opts.perPeerSeconds ?? 180) * 1000;
  // One peer at a time needs a budget per peer: the chart sizes the Job's deadline the same way.
  const first = await kube.getStatefulSet(opts.statefulset);
  ctx = { ...ctx, deadline: Math.max(ctx.deadline, clock.now() + first.replicas * perPeerMs + 60_000) };
  const verdicts: Record<string, PeerVerdict> = {};
  const peerChecks: Check[] = [];
  let state: StagedRolloutState | undefined = ctx.record?.stagedRollout;
  let lastLine = '';
  let lastProgress = 0;
  let peerDeadline = Math.min(ctx.deadline, clock.now() + perPeerMs);
  let workingOn: number | undefined;

  for (;;) {
    const sts = await kube.getStatefulSet(opts.statefulset);
    const pods = podsOf(sts, await kube.listPods(sts.selector));
    const input: StagedInput = {
      replicas: sts.replicas,
      partition: sts.partition,
      updateRevision: sts.updateRevision,
      pods: pods.map((p) => ({ ordinal: p.ordinal!, revision: p.revision, ready: p.ready, uid: p.uid })),
      ...(state ? { record: state } : {}),
      perPeerVerdicts: verdicts,
      ...(opts.resume ? { resume: true } : {}),
    };
    const decision = nextStagedStep(input);
    const next = stagedStateAfter(input, decision);
    if (ctx.record && JSON.stringify(next) !== JSON.stringify(state)) {
      await saveState(opts, deps, ctx.record, next);
      state = next;
    }
    const line = describeStagedStep(decision, sts.name);
    const now = clock.now();
    if (line !== lastLine || now - lastProgress >= PROGRESS_EVERY_MS) {
      progress.say(`${line} (${Math.max(0, Math.round((ctx.deadline - now) / 1000))} s left)`);
      lastLine = line;
      lastProgress = now;
    }
    const ordinalOf = 'ordinal' in decision ? decision.ordinal : 'to' in decision ? decision.to : undefined;
    if (ordinalOf !== undefined && ordinalOf !== workingOn) {
      workingOn = ordinalOf;
      peerDeadline = Math.min(ctx.deadline, now + perPeerMs);
    }

    switch (decision.action) {
      case 'done': {
        const final = await waitForConvergence(opts, deps, ctx);
        // Every peer runs the new revision: hand the partition back, so the next Helm 4 upgrade can apply the
        // chart's partition without a field-manager conflict (a stopped rollout keeps it, on purpose).
        if (sts.partition === 0) await kube.releaseStatefulSetPartition(sts.name);
        return [
          check(CHECK_IDS.rolloutStaged, 'pass', `statefulset/${sts.name}`, `all ${sts.replicas} peer(s) updated one at a time and verified`, 'every peer verified before the next'),
          ...peerChecks,
          ...final,
        ];
      }
      case 'stopped': {
        const pod = `${sts.name}-${decision.ordinal}`;
        const archive = ctx.record?.peers[String(decision.ordinal)]?.archive;
        const left = pods.filter((p) => p.revision !== sts.updateRevision).map((p) => p.name);
        return [
          check(
            CHECK_IDS.rolloutStaged,
            'fail',
            `statefulset/${sts.name}`,
            `stopped at ${pod}: ${decision.reason}; ${left.length ? `${left.join(', ')} still on the old version, serving` : 'no peer left on the old version'}`,
            'every peer verified before the next',
            `Fix ${pod}${archive ? ` (its pre-upgrade raft state is archived as ${archive}; ${runbook(RUNBOOKS.restore)})` : ''}, ` +
              `then continue with \`qdrant-upgrade-guard post-upgrade --resume --release ${opts.release} --statefulset ${sts.name} --target-version ${ctx.target} --staged\`; ` +
              `or abandon with \`helm rollback\`, which leaves the peers below the partition untouched but moves the updated ones back, a downgrade ` +
              `(${runbook(RUNBOOKS.stagedStopped)}).`,
          ),
          ...peerChecks,
        ];
      }
      case 'lower-partition':
        await kube.patchStatefulSetPartition(sts.name, decision.to);
        continue;
      case 'wait-pod': {
        const pod = pods.find((p) => p.ordinal === decision.ordinal);
        // The loop shows within seconds of the restart: fail this peer at once rather than at its deadline.
        const logs = pod ? await scanPodLogs(deps, [pod], ctx.record, ctx.sinceTime) : [];
        const fails = logs.filter((c) => c.status === 'fail');
        if (fails.length > 0 && pod) {
          peerChecks.push(...fails);
          verdicts[String(decision.ordinal)] = { status: 'fail', uid: pod.uid, reason: fails.map((c) => c.observed).join('; ').slice(0, 500) };
          continue;
        }
        if (clock.now() >= peerDeadline) {
          const snap = await rolloutSnapshot(deps, sts, pods);
          const stuck = assessRollout({ ...snap, partition: decision.ordinal }, { deadlineReached: true, waitedSeconds: Math.round(perPeerMs / 1000) }).stuck;
          const c = stuck ?? check(CHECK_IDS.rolloutStaged, 'fail', `${sts.name}-${decision.ordinal}`, decision.reason, 'the pod updated and ready within its budget');
          peerChecks.push(c);
          verdicts[String(decision.ordinal)] = { status: 'fail', ...(pod ? { uid: pod.uid } : {}), reason: `${c.observed}`.slice(0, 500) };
          if (!pod) return [c, ...peerChecks];
          continue;
        }
        await clock.sleep(POLL_MS);
        continue;
      }
      case 'verify-peer': {
        const pod = pods.find((p) => p.ordinal === decision.ordinal)!;
        const look = await lookAtCluster(deps, opts.statefulset, ctx.target, ctx.record, { sts, pods });
        const mine = look.convergence.filter(
          (c) => (c.subject === pod.name && c.id !== CHECK_IDS.peerMetadata) || CONSENSUS_IDS.has(c.id),
        );
        const logs = await scanPodLogs(deps, [pod], ctx.record, ctx.sinceTime);
        const all = [...mine, ...logs];
        const fails = all.filter((c) => c.status === 'fail');
        const permanent = fails.some((c) => c.id === CHECK_IDS.peerIdentity || c.id === CHECK_IDS.peerLogLoop || c.id === CHECK_IDS.peerIdentityLost);
        if (fails.length === 0) {
          verdicts[String(decision.ordinal)] = { status: 'pass', uid: pod.uid };
          peerChecks.push(...all.filter((c) => c.subject === pod.name || c.subject === `pod/${pod.name}`));
          continue;
        }
        if (permanent || clock.now() >= peerDeadline) {
          peerChecks.push(...fails);
          verdicts[String(decision.ordinal)] = {
            status: 'fail',
            uid: pod.uid,
            reason: fails.map((c) => `${c.id}: ${c.observed}`).join('; ').slice(0, 500),
          };
          continue;
        }
        // Just restarted peers take a moment to catch up on the commit: look again.
        await clock.sleep(POLL_MS);
        continue;
      }
    }
  }
}

async function saveState(opts: PostUpgradeOptions, deps: ClusterDeps, record: GuardRecord, state: StagedRolloutState): Promise<void> {
  await deps.kube.updateRecord(
    recordName(opts.release),
    (current) => {
      let base = record;
      if (current) {
        try {
          base = parseRecord(current);
        } catch (err) {
          // Overwriting would erase what another writer (a newer guard, a hand edit) put there: stop and say so.
          throw new GuardError('infrastructure', `cannot save the staged rollout's progress, the record was left as it is: ${(err as Error).message}`, {
            cause: err,
            remedy: `${err instanceof GuardError ? `${err.remedy} ` : ''}Then continue with --resume (${runbook(RUNBOOKS.stagedStopped)}).`,
          });
        }
      }
      return serializeRecord({ ...base, stagedRollout: state });
    },
    guardLabels(opts.release),
  );
}
