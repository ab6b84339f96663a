/**
 * `post-upgrade`: the hook Job that runs after Helm applied the new release (docs/how-it-works.md#the-timeline-of-one-helm-upgrade). It waits for the rollout with a deadline while reading the Qdrant pods' logs, so the
 * #6229 loop fails fast with its diagnosis instead of a rollout timeout; then it proves convergence:
 * every peer back under its recorded id, on the target version, in one healthy consensus.
 * With --staged it drives the rollout itself, one peer at a time (see staged.ts).
 */
import { check, failureHeadline, verdictOf, type Check, type Report } from '../report.js';
import { parseVersion } from '../policy/version.js';
import { assessRollout } from '../policy/rollout.js';
import { CHECK_IDS } from '../policy/check-ids.js';
import { RUNBOOKS, runbook } from '../policy/remedies.js';
import { parseRecord, serializeRecord, type GuardRecord } from '../policy/record.js';
import { guardLabels, podsOf, recordName, type ClusterDeps, type ClusterTarget } from './cluster.js';
import { lookAtCluster, readGuardRecord, rolloutSnapshot, scanPodLogs } from './observe-cluster.js';
import { POLL_MS, PROGRESS_EVERY_MS, waitForConvergence, type PostUpgradeOptions, type WaitContext } from './rollout-wait.js';

export { POLL_MS, PROGRESS_EVERY_MS, type PostUpgradeOptions } from './rollout-wait.js';

export async function runPostUpgrade(opts: PostUpgradeOptions, deps: ClusterDeps): Promise<Report> {
  const target = parseVersion(opts.targetVersion, 'target version (--target-version)').version;
  const started = deps.clock.now();
  const deadline = started + opts.timeoutSeconds * 1000;
  const record = await readGuardRecord(deps, opts.release);
  const sinceTime = record?.createdAt;

  let checks: Check[];
  if (opts.staged) {
    const { runStagedRollout } = await import('./staged.js');
    checks = await runStagedRollout(opts, deps, { target, record, deadline, ...(sinceTime ? { sinceTime } : {}) });
  } else {
    checks = await waitForRollout(opts, deps, { target, record, deadline, ...(sinceTime ? { sinceTime } : {}) });
    if (!checks.some((c) => c.status === 'fail')) checks = await waitForConvergence(opts, deps, { target, record, deadline });
  }
  return finish('post-upgrade', opts, deps, { target, record, checks, started });
}

/** Step 1: the rollout, with the log watch that turns the #6229 loop into a verdict within seconds. */
export async function waitForRollout(opts: ClusterTarget, deps: ClusterDeps, ctx: WaitContext): Promise<Check[]> {
  let lastProgress = 0;
  const waitStart = deps.clock.now();
  for (;;) {
    const sts = await deps.kube.getStatefulSet(opts.statefulset);
    const pods = podsOf(sts, await deps.kube.listPods(sts.selector));
    const logChecks = await scanPodLogs(deps, pods, ctx.record, ctx.sinceTime);
    const logFailures = logChecks.filter((c) => c.status === 'fail');
    if (logFailures.length > 0) {
      // Fail fast, with the identity each pod answers under now: other checks would only reflect the
      // rollout still in flight, but a peer id that changed is the fact the on-call person needs next.
      try {
        const look = await lookAtCluster(deps, opts.statefulset, ctx.target, ctx.record, { sts, pods });
        return [...logChecks, ...look.convergence.filter((c) => c.id === CHECK_IDS.peerIdentity)];
      } catch (err) {
        // The log already decided the verdict; say that the identities could not be read, and why.
        const why = err instanceof Error ? err.message : String(err);
        return [
          ...logChecks,
          check(
            CHECK_IDS.peerIdentity,
            'skip',
            `statefulset/${sts.name}`,
            `the peer ids could not be read after the log failure: ${why}`,
            'each pod answering under its recorded peer id',
            `Once the pods answer, run \`helm test ${opts.release}\` to compare every peer id with the record (${runbook(RUNBOOKS.postUpgradeFailed)}).`,
          ),
        ];
      }
    }

    const now = deps.clock.now();
    const deadlineReached = now >= ctx.deadline;
    const snap = await rolloutSnapshot(deps, sts, pods);
    const assessment = assessRollout(snap, { deadlineReached, waitedSeconds: Math.round((now - waitStart) / 1000) });
    if (assessment.done) {
      deps.progress.say(`rollout done: ${assessment.progressLine}`);
      return [check(CHECK_IDS.rolloutComplete, 'pass', `statefulset/${sts.name}`, assessment.progressLine, 'every pod on the update revision and ready')];
    }
    if (assessment.stuck) return [assessment.stuck, ...logChecks.filter((c) => c.status === 'warn')];
    if (now - lastProgress >= PROGRESS_EVERY_MS) {
      deps.progress.say(`${assessment.progressLine} (${Math.max(0, Math.round((ctx.deadline - now) / 1000))} s left)`);
      lastProgress = now;
    }
    await deps.clock.sleep(POLL_MS);
  }
}

/** Step 3: the record, the Event and the report; the exit code follows --on-failure in the CLI. */
export async function finish(
  command: 'post-upgrade' | 'verify',
  opts: ClusterTarget & { onFailure?: 'fail' | 'report' },
  deps: ClusterDeps,
  ctx: { target: string; record: GuardRecord | undefined; checks: Check[]; started: number; updateRecord?: boolean },
): Promise<Report> {
  const { checks } = ctx;
  const verdict = verdictOf(checks, 'fail');
  const failed = checks.filter((c) => c.status === 'fail');
  const stsSubject = `statefulset/${opts.statefulset}`;
  let summary =
    verdict === 'pass'
      ? `${stsSubject} converged on ${ctx.target}: every peer answers under its recorded id, one healthy consensus`
      : `${stsSubject} did not converge on ${ctx.target}: ${failureHeadline(failed)}`;
  if (verdict !== 'pass' && opts.onFailure === 'report') {
    summary = `WARNING: ${summary} (exit 0 because --on-failure=report; the upgrade is NOT verified)`;
  }

  if (command === 'post-upgrade' && ctx.record) {
    await deps.kube
      .updateRecord(
        recordName(opts.release),
        (current) => {
          const base = current ? safeParse(current) ?? ctx.record! : ctx.record!;
          return serializeRecord({ ...base, verdicts: { ...base.verdicts, postUpgrade: verdict } });
        },
        guardLabels(opts.release),
      )
      .catch((err: Error) => checks.push(check('guard.record', 'warn', recordName(opts.release), `could not update the record: ${err.message}`, 'the verdict recorded')));
  }
  if (command === 'post-upgrade') {
    const sts = await deps.kube.getStatefulSet(opts.statefulset).catch(() => undefined);
    await deps.kube
      .emitEvent({
        involved: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: opts.statefulset, ...(sts ? { uid: sts.uid } : {}) },
        type: verdict === 'pass' ? 'Normal' : 'Warning',
        reason: verdict === 'pass' ? 'UpgradeVerified' : 'UpgradeVerificationFailed',
        message: summary.slice(0, 1000),
      })
      .catch((err: Error) => checks.push(check('guard.event', 'warn', stsSubject, `could not emit the Event: ${err.message}`, 'an Event on the StatefulSet')));
  }
  return {
    schemaVersion: 1,
    command,
    verdict,
    summary,
    checks,
    details: {
      namespace: deps.kube.namespace,
      statefulset: opts.statefulset,
      targetVersion: ctx.target,
      ...(opts.onFailure ? { onFailure: opts.onFailure } : {}),
      elapsedMs: deps.clock.now() - ctx.started,
      ...(ctx.record ? { record: { fromVersion: ctx.record.fromVersion, toVersion: ctx.record.toVersion, createdAt: ctx.record.createdAt } } : {}),
    },
  };
}

function safeParse(text: string): GuardRecord | undefined {
  try {
    return parseRecord(text);
  } catch {
    return undefined;
  }
}
