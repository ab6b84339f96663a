/**
 * Cluster health before an upgrade (docs/how-it-works.md#the-timeline-of-one-helm-upgrade, pre-upgrade): the
 * consensus blocks of consensus.ts, plus version agreement and readiness, composed into one verdict. Pure:
 * observations in, checks out.
 *
 * Rules, decided on purpose (docs/qdrant-facts.md#http-api), beyond those in consensus.ts:
 * - Every answering pod runs the same version (a mix means an earlier upgrade did not finish) and, where
 *   /readyz was read, is ready.
 *
 * The `--allow-degraded` override is applied here, not by the caller: with `allowDegraded` every failed
 * check becomes a warning whose remedy names the risk accepted, so the report still shows what was wrong.
 */
import { check, type Check } from '../report.js';
import type { PeerObservation } from './types.js';
import { CHECK_IDS } from './check-ids.js';
import { compareVersionTexts, normalizeVersionText } from './version.js';
import {
  answers,
  consensusChecks,
  enabledPeers,
  groupBy,
  membershipChecks,
  modeCheck,
  pods,
  reachabilityChecks,
  sortByOrdinal,
} from './consensus.js';


export interface ClusterHealthOptions {
  /** spec.replicas of the StatefulSet. */
  expectedPeers: number;
  /** `--allow-degraded` / upgradeGuard.preUpgrade.allowDegraded: failures become warnings. */
  allowDegraded?: boolean;
  /** What cluster-wide checks name, e.g. "statefulset/qdrant"; default "cluster". */
  subject?: string;
}

export const ALLOW_DEGRADED_HINT = 'set upgradeGuard.preUpgrade.allowDegraded=true (--allow-degraded)';

/** What going ahead despite each failure risks; named in the remedy and in the warning when overridden. */
const DEGRADED_RISK: Record<string, string> = {
  [CHECK_IDS.clusterReachable]:
    "the silent peer's raft state is neither checked nor archived, and restarting the others may cost the cluster its quorum",
  [CHECK_IDS.clusterMode]: 'peers with different cluster settings do not form one consensus after the restart',
  [CHECK_IDS.clusterLeader]: 'restarting peers during an election can leave the cluster without a leader',
  [CHECK_IDS.clusterTerm]: 'restarting peers during an election can leave the cluster without a leader',
  [CHECK_IDS.clusterCommit]: 'a peer restarted behind the others replays the missing entries on the new version',
  [CHECK_IDS.clusterPending]: 'a peer restarted with pending operations replays them on the new version',
  [CHECK_IDS.clusterConsensusThread]: 'a peer whose consensus has stopped may not rejoin after its restart',
  [CHECK_IDS.clusterShards]:
    'restarting the peer that holds the only Active replica makes that shard unavailable, and a running transfer starts over',
  [CHECK_IDS.clusterMembership]:
    'phantom or missing peers count toward the quorum, so restarting a real peer can leave the cluster without a majority',
  [CHECK_IDS.peerVersion]: 'the upgrade mixes more than two versions in one cluster, a combination Qdrant does not test',
  [CHECK_IDS.peerReady]: 'a peer that is not ready holds shards that are not Active; restarting others can make them unavailable',
};

export function assessClusterHealth(observations: PeerObservation[], opts: ClusterHealthOptions): Check[] {
  const subject = opts.subject ?? 'cluster';
  const obs = sortByOrdinal(observations);
  const checks: Check[] = [...reachabilityChecks(obs, opts.expectedPeers, subject)];
  const answered = obs.filter(answers);
  if (answered.length > 0) {
    const disabled = answered.filter((o) => o.cluster!.status === 'disabled');
    const enabled = enabledPeers(answered);
    checks.push(modeCheck(disabled, enabled, opts.expectedPeers, subject));
    if (enabled.length > 0) {
      checks.push(...consensusChecks(enabled, subject));
      checks.push(...membershipChecks(enabled, { expectedPeers: opts.expectedPeers, subject, observations: obs }));
    }
    checks.push(versionAgreementCheck(answered, subject));
    checks.push(...readinessChecks(answered, subject));
  }
  return checks.map((c) => overrideDegraded(c, opts.allowDegraded ?? false));
}

function overrideDegraded(c: Check, allow: boolean): Check {
  if (c.status !== 'fail') return c;
  const risk = DEGRADED_RISK[c.id] ?? 'the cluster is not healthy';
  if (allow) {
    return {
      ...c,
      status: 'warn',
      observed: `${c.observed} (allowed by allowDegraded)`,
      remedy: `Going ahead because allowDegraded is set; risk accepted: ${risk}. Without the override: ${c.remedy}`,
    };
  }
  return { ...c, remedy: `${c.remedy} To upgrade anyway, ${ALLOW_DEGRADED_HINT}; risk: ${risk}.` };
}

function versionAgreementCheck(answered: readonly PeerObservation[], subject: string): Check {
  const id = CHECK_IDS.peerVersion;
  const expected = 'one version on every peer';
  const withVersion = answered.filter((o) => o.version?.version);
  const byVersion = groupBy(
    withVersion.map((o) => ({ pod: o.endpoint.pod, v: normalizeVersionText(o.version!.version) })),
    (x) => x.v,
  );
  if (byVersion.size === 0) return check(id, 'skip', subject, 'no peer reported its version (GET /)', expected);
  if (byVersion.size === 1) {
    return check(id, 'pass', subject, `${withVersion.length} peer(s) run ${[...byVersion.keys()][0]}`, expected);
  }
  const versions = [...byVersion.keys()].sort(compareVersionTexts);
  return check(
    id,
    'fail',
    subject,
    `${versions.map((v) => `${pods(byVersion.get(v)!)} ${byVersion.get(v)!.length === 1 ? 'runs' : 'run'} ${v}`).join('; ')}: an earlier upgrade did not finish`,
    expected,
    'Finish the earlier upgrade first: if a staged rollout stopped, fix the reported peer and run post-upgrade --resume; otherwise bring every pod to one version.',
  );
}

function readinessChecks(answered: readonly PeerObservation[], subject: string): Check[] {
  const id = CHECK_IDS.peerReady;
  const expected = '/readyz 200';
  const judged = answered.filter((o) => o.ready !== undefined);
  if (judged.length === 0) return [check(id, 'skip', subject, '/readyz was not read', expected)];
  const notReady = judged.filter((o) => o.ready === false);
  if (notReady.length === 0) return [check(id, 'pass', subject, `${judged.length} peer(s) ready`, expected)];
  return notReady.map((o) =>
    check(
      id,
      'fail',
      o.endpoint.pod,
      `/readyz 503${o.readyText ? ` ${o.readyText.trim()}` : ''}`,
      expected,
      `${o.endpoint.pod} is not ready: in cluster mode /readyz waits until the peer reached the cluster commit and its shards are Active. Wait, then look at cluster.shards and GET /cluster on ${o.endpoint.pod}.`,
    ),
  );
}
