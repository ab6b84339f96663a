/**
 * What post-upgrade and the staged rollout share: the command's options, the polling cadence and the
 * convergence wait. Its own module so that neither command imports the other.
 */
import { CHECK_IDS } from '../policy/check-ids.js';
import type { GuardRecord } from '../policy/record.js';
import type { Check } from '../report.js';
import type { ClusterDeps, ClusterTarget } from './cluster.js';
import { lookAtCluster, scanPodLogs, type ClusterLook } from './observe-cluster.js';

export interface PostUpgradeOptions extends ClusterTarget {
  targetVersion: string;
  timeoutSeconds: number;
  /** fail: exit 1 on a failure; report: exit 0 with a loud warning (for --atomic users). */
  onFailure: 'fail' | 'report';
  /** Drive a partitioned rollout one peer at a time (the chart renders the partition at replicas). */
  staged?: boolean;
  perPeerSeconds?: number;
  /** Continue a staged rollout that stopped, after a fix. */
  resume?: boolean;
}

/** Polling cadence: no resource is asked more than once a second. */
export const POLL_MS = 1000;
/** A progress line at least this often while waiting. */
export const PROGRESS_EVERY_MS = 10_000;

export interface WaitContext {
  target: string;
  record: GuardRecord | undefined;
  deadline: number;
  sinceTime?: string;
}

/** Step 2: convergence, re-checked until it holds or the deadline passes (peers settle after ready). */
export async function waitForConvergence(opts: ClusterTarget, deps: ClusterDeps, ctx: WaitContext): Promise<Check[]> {
  let lastProgress = 0;
  let look: ClusterLook;
  for (;;) {
    look = await lookAtCluster(deps, opts.statefulset, ctx.target, ctx.record);
    const failures = look.convergence.filter((c) => c.status === 'fail');
    const now = deps.clock.now();
    if (failures.length === 0 || now >= ctx.deadline || failures.some((c) => c.id === CHECK_IDS.peerIdentity)) {
      // An identity mismatch does not heal by waiting: the state is gone; report it at once.
      const logs = await scanPodLogs(deps, look.pods, ctx.record, ctx.sinceTime);
      return [...look.convergence, ...logs];
    }
    if (now - lastProgress >= PROGRESS_EVERY_MS) {
      deps.progress.say(
        `waiting for convergence: ${failures.length} check(s) not yet met, first ${failures[0]!.id} on ${failures[0]!.subject}: ${failures[0]!.observed} (${Math.round((ctx.deadline - now) / 1000)} s left)`,
      );
      lastProgress = now;
    }
    await deps.clock.sleep(POLL_MS);
  }
}
