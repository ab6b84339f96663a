/**
 * The consensus blocks that pre-upgrade health (cluster-health.ts) and post-upgrade convergence (convergence.ts)
 * share. Pure: observations in, checks out.
 *
 * Rules, decided on purpose (docs/qdrant-facts.md#http-api):
 * - Every pod of the StatefulSet must answer GET / and GET /cluster: "2 of 3 peers answer, need all 3".
 * - Cluster mode disabled on every peer (a single node): health is version and readiness only; the consensus
 *   rules do not apply. Disabled on some peers and enabled on others is a misconfiguration and fails.
 * - One leader: every answering peer reports the same leader id and at most one says role=Leader.
 * - One term; commits equal exactly. pending_operations is 0 on every peer, and once nothing is pending the
 *   commits of an idle cluster agree, so no lag is tolerated. The numbers are always reported; a caller
 *   that observed while writes were flowing re-observes before deciding (this module never retries).
 * - The consensus thread is `working` on every peer.
 * - Every shard replica of every collection is `Active`. `ActiveRead` (1.19) serves reads but takes no
 *   writes, so it is not healthy for an upgrade and fails with its state named, like every other state.
 * - Membership: the consensus lists exactly one peer per replica, every answering pod is a member, no id is
 *   claimed by two pods, and no URI is held by two ids (a pod back under a new id, qdrant/qdrant#6348).
 *
 * Longer than most files here (~540 lines) on purpose: each block is a short function, and splitting the
 * membership rules from the consensus rules would scatter helpers they share.
 */
import { check, type Check } from '../report.js';
import type { ClusterStatus, PeerObservation } from './types.js';
import { CHECK_IDS } from './check-ids.js';
import { QDRANT_P2P_PORT } from './layout.js';

export type EnabledCluster = Extract<ClusterStatus, { status: 'enabled' }>;

/** A pod that answered GET /cluster with cluster mode enabled. */
export interface AnsweringPeer {
  pod: string;
  ordinal: number;
  cluster: EnabledCluster;
  observation: PeerObservation;
}

// ---------------------------------------------------------------------------------------------
// Building blocks shared with convergence.ts

export function sortByOrdinal(observations: readonly PeerObservation[]): PeerObservation[] {
  return [...observations].sort((a, b) => a.endpoint.ordinal - b.endpoint.ordinal || cmp(a.endpoint.pod, b.endpoint.pod));
}

/** The pod answered both GET / (reachable) and GET /cluster. */
export function answers(o: PeerObservation): boolean {
  return o.reachable && o.cluster !== undefined;
}

export function enabledPeers(observations: readonly PeerObservation[]): AnsweringPeer[] {
  const out: AnsweringPeer[] = [];
  for (const o of observations) {
    if (answers(o) && o.cluster!.status === 'enabled') {
      out.push({ pod: o.endpoint.pod, ordinal: o.endpoint.ordinal, cluster: o.cluster as EnabledCluster, observation: o });
    }
  }
  return out;
}

function whyNoAnswer(o: PeerObservation): string {
  if (o.error) return o.error;
  return o.reachable ? 'GET /cluster gave no answer' : 'no answer';
}

export function reachabilityChecks(obs: readonly PeerObservation[], expectedPeers: number, subject: string): Check[] {
  const answered = obs.filter(answers).length;
  const id = CHECK_IDS.clusterReachable;
  const head = `${answered} of ${expectedPeers} peers answer, need all ${expectedPeers}`;
  const expected = `all ${expectedPeers} peers answer GET / and GET /cluster`;
  const checks: Check[] = [];
  for (const o of obs) {
    if (answers(o)) continue;
    const pod = o.endpoint.pod;
    checks.push(
      check(
        id,
        'fail',
        pod,
        `${head}: ${pod} did not (${whyNoAnswer(o)})`,
        expected,
        `Bring ${pod} back (kubectl describe pod ${pod}; kubectl logs ${pod}), then run again.`,
      ),
    );
  }
  if (obs.length < expectedPeers) {
    const missing = expectedPeers - obs.length;
    checks.push(
      check(
        id,
        'fail',
        subject,
        `${head}: ${missing} of ${expectedPeers} pods do not exist or have no IP yet`,
        expected,
        `Wait until the StatefulSet runs all ${expectedPeers} pods (kubectl get pods), then run again.`,
      ),
    );
  }
  if (checks.length === 0) {
    checks.push(check(id, 'pass', subject, `${answered} of ${expectedPeers} peers answer`, expected));
  }
  return checks;
}

export function modeCheck(
  disabled: readonly PeerObservation[],
  enabled: readonly AnsweringPeer[],
  expectedPeers: number,
  subject: string,
): Check {
  const id = CHECK_IDS.clusterMode;
  if (disabled.length > 0 && enabled.length > 0) {
    return check(
      id,
      'fail',
      subject,
      `cluster mode disabled on ${pods(disabled.map((o) => o.endpoint.pod))}, enabled on ${pods(enabled.map((p) => p.pod))}`,
      'the same cluster mode on every peer',
      'Set cluster.enabled the same way for every pod (the chart sets QDRANT__CLUSTER__ENABLED for all of them); a pod with a different config file or environment is the odd one out.',
    );
  }
  if (enabled.length > 0) {
    return check(id, 'pass', subject, `cluster mode enabled on ${enabled.length} answering peer(s)`, 'the same cluster mode on every peer');
  }
  if (expectedPeers > 1) {
    return check(
      id,
      'warn',
      subject,
      `cluster mode disabled with ${expectedPeers} replicas: each pod is an independent node with its own data`,
      'cluster mode enabled when replicas > 1',
      'Enable cluster mode (config.cluster.enabled=true) if the replicas are meant to share collections; as it is, the consensus checks do not apply.',
    );
  }
  return check(
    id,
    'pass',
    subject,
    'cluster mode disabled (single node): health is version and readiness only',
    'the same cluster mode on every peer',
  );
}

/** One leader, one term, equal commits, nothing pending, consensus working, every replica Active. */
export function consensusChecks(peers: readonly AnsweringPeer[], subject: string): Check[] {
  return [
    leaderCheck(peers, subject),
    termCheck(peers, subject),
    commitCheck(peers, subject),
    ...pendingChecks(peers, subject),
    ...consensusThreadChecks(peers, subject),
    ...shardChecks(peers, subject),
  ];
}

function leaderCheck(peers: readonly AnsweringPeer[], subject: string): Check {
  const id = CHECK_IDS.clusterLeader;
  const expected = 'every peer follows the same single leader';
  const byLeader = new Map<string, string[]>();
  const noLeader: string[] = [];
  for (const p of peers) {
    const leader = p.cluster.raft.leader;
    if (leader === undefined || leader === '' || leader === '0') noLeader.push(p.pod);
    else push(byLeader, leader, p.pod);
  }
  const claimants = peers.filter((p) => p.cluster.raft.role === 'Leader');
  const leaders = [...byLeader.keys()];
  const claimantMismatch = claimants.length === 1 && leaders.length === 1 && claimants[0]!.cluster.peerId !== leaders[0];
  if (noLeader.length === 0 && leaders.length === 1 && claimants.length <= 1 && !claimantMismatch) {
    const leader = leaders[0]!;
    return check(id, 'pass', subject, `${peers.length} answering peer(s) follow leader ${nameId(leader, peers)}`, expected);
  }
  const parts = [...byLeader.entries()].map(([leader, who]) => `${pods(who)} ${who.length === 1 ? 'follows' : 'follow'} leader ${nameId(leader, peers)}`);
  if (noLeader.length > 0) parts.push(`${pods(noLeader)} ${noLeader.length === 1 ? 'knows' : 'know'} no leader`);
  if (claimants.length > 1) parts.push(`${pods(claimants.map((c) => c.pod))} each say they lead`);
  if (claimantMismatch) parts.push(`${claimants[0]!.pod} says it leads as peer ${claimants[0]!.cluster.peerId}`);
  return check(
    id,
    'fail',
    subject,
    parts.join('; '),
    expected,
    'An election is in progress or the cluster is split. Wait a few seconds and check again; if it persists, compare GET /cluster on every pod (message_send_failures shows which peers cannot reach each other) and read the logs of the peers that disagree.',
  );
}

function termCheck(peers: readonly AnsweringPeer[], subject: string): Check {
  const id = CHECK_IDS.clusterTerm;
  const expected = 'one term on every peer';
  const byTerm = groupBy(peers, (p) => p.cluster.raft.term);
  if (byTerm.size === 1) {
    const term = [...byTerm.keys()][0]!;
    return check(id, 'pass', subject, `term ${term} on ${peers.length} answering peer(s)`, expected);
  }
  const parts = sortedDecimalKeys(byTerm).map((t) => `term ${t} on ${pods(byTerm.get(t)!)}`);
  return check(
    id,
    'fail',
    subject,
    parts.join('; '),
    expected,
    'Peers in different terms have not settled an election. Wait a few seconds and check again; a peer that stays in an older term cannot reach the leader (see message_send_failures in its GET /cluster).',
  );
}

function commitCheck(peers: readonly AnsweringPeer[], subject: string): Check {
  const id = CHECK_IDS.clusterCommit;
  const expected = 'the same commit on every peer';
  const byCommit = groupBy(peers, (p) => p.cluster.raft.commit);
  if (byCommit.size === 1) {
    const commit = [...byCommit.keys()][0]!;
    return check(id, 'pass', subject, `commit ${commit} on ${peers.length} answering peer(s)`, expected);
  }
  const keys = sortedDecimalKeys(byCommit).reverse();
  const top = BigInt(keys[0]!);
  const parts = keys.map((c, i) => {
    const behind = top - BigInt(c);
    return `commit ${c} on ${pods(byCommit.get(c)!)}${i === 0 ? '' : ` (${behind} behind)`}`;
  });
  return check(
    id,
    'fail',
    subject,
    parts.join('; '),
    expected,
    'A peer behind the others is still applying entries or cannot reach the leader. Check again once no collection or shard change is running; pending_operations and message_send_failures in GET /cluster of the lagging peer tell which.',
  );
}

function pendingChecks(peers: readonly AnsweringPeer[], subject: string): Check[] {
  const id = CHECK_IDS.clusterPending;
  const expected = '0 pending operations';
  const busy = peers.filter((p) => p.cluster.raft.pendingOperations !== 0);
  if (busy.length === 0) return [check(id, 'pass', subject, `0 pending operations on ${peers.length} answering peer(s)`, expected)];
  return busy.map((p) =>
    check(
      id,
      'fail',
      p.pod,
      `${p.cluster.raft.pendingOperations} pending operation(s) at commit ${p.cluster.raft.commit}`,
      expected,
      `${p.pod} has not applied every committed entry yet. Wait until pending_operations is 0 (GET /cluster on ${p.pod}) and run again.`,
    ),
  );
}

function consensusThreadChecks(peers: readonly AnsweringPeer[], subject: string): Check[] {
  const id = CHECK_IDS.clusterConsensusThread;
  const expected = 'consensus thread working';
  const stopped = peers.filter((p) => p.cluster.consensusThread.status !== 'working');
  if (stopped.length === 0) return [check(id, 'pass', subject, `consensus thread working on ${peers.length} answering peer(s)`, expected)];
  return stopped.map((p) =>
    check(
      id,
      'fail',
      p.pod,
      `consensus thread ${p.cluster.consensusThread.status}${p.cluster.consensusThread.err ? `: ${p.cluster.consensusThread.err}` : ''}`,
      expected,
      `Consensus stopped on ${p.pod}: read the error in its log (kubectl logs ${p.pod}), fix the cause, then restart the pod (kubectl delete pod ${p.pod}).`,
    ),
  );
}

/** What to do about a replica in each non-Active state (docs/qdrant-facts.md#http-api lists the states). */
const SHARD_STATE_REMEDY: Record<string, string> = {
  Dead: 'a Dead replica is recovered by a transfer from an Active replica of the same shard; if none is Active, recover the shard from a snapshot.',
  Partial: 'a transfer into this replica is running: wait until it finishes (GET /collections/<name>/cluster lists shard_transfers).',
  PartialSnapshot: 'a snapshot transfer into this replica is running: wait until it finishes.',
  Initializing: 'the replica is being created: wait until it is Active.',
  Recovery: 'the replica is recovering: wait until it is Active.',
  Listener: 'a Listener replica takes updates but serves no searches; make it Active or remove it before upgrading.',
  Resharding: 'resharding is in progress: wait until it finishes.',
  ReshardingScaleDown: 'resharding (scale down) is in progress: wait until it finishes.',
  ActiveRead: 'an ActiveRead replica (1.19+) serves reads but takes no writes yet: wait until it is Active.',
  ManualRecovery: 'the replica needs manual recovery (1.19+): recover the shard from a snapshot, then check again.',
};

interface ReplicaView {
  collection: string;
  shardId: number;
  peerId: string;
  /** state -> pods that reported it */
  states: Map<string, string[]>;
}

function shardChecks(peers: readonly AnsweringPeer[], subject: string): Check[] {
  const id = CHECK_IDS.clusterShards;
  const expected = 'every shard replica Active';
  const withCollections = peers.filter((p) => p.observation.collections !== undefined);
  if (withCollections.length === 0) {
    return [check(id, 'skip', subject, 'collections were not observed on any peer', expected)];
  }
  const replicas = new Map<string, ReplicaView>();
  const collections = new Set<string>();
  for (const p of withCollections) {
    for (const c of p.observation.collections!) {
      collections.add(c.collection);
      for (const r of c.replicas) {
        const key = `${r.collection}\u0000${r.shardId}\u0000${r.peerId}`;
        let view = replicas.get(key);
        if (!view) {
          view = { collection: r.collection, shardId: r.shardId, peerId: r.peerId, states: new Map() };
          replicas.set(key, view);
        }
        push(view.states, r.state, p.pod);
      }
    }
  }
  const notRead = peers.filter((p) => p.observation.collections === undefined).map((p) => p.pod);
  const notReadNote = notRead.length > 0 ? ` (collections not read from ${pods(notRead)})` : '';
  const bad = [...replicas.values()].filter((v) => [...v.states.keys()].some((s) => s !== 'Active'));
  if (bad.length === 0) {
    const observed =
      collections.size === 0
        ? `no collections${notReadNote}`
        : `${replicas.size} shard replica(s) in ${collections.size} collection(s), all Active${notReadNote}`;
    return [check(id, 'pass', subject, observed, expected)];
  }
  // One check per peer that holds bad replicas, so each failure names the pod to look at.
  const byOwner = new Map<string, ReplicaView[]>();
  for (const v of bad.sort((a, b) => cmp(a.collection, b.collection) || a.shardId - b.shardId || cmp(a.peerId, b.peerId))) {
    push(byOwner, ownerName(v.peerId, peers), v);
  }
  const checks: Check[] = [];
  for (const [owner, views] of byOwner) {
    const states = new Set<string>();
    const parts = views.map((v) => {
      const seen = [...v.states.entries()].sort(([a], [b]) => cmp(a, b)).map(([state, who]) => {
        if (state !== 'Active') states.add(state);
        return `${state} per ${pods(who)}`;
      });
      return `collection "${v.collection}" shard ${v.shardId}: ${seen.join(', ')}`;
    });
    const remedy = [...states].map((s) => `${s}: ${SHARD_STATE_REMEDY[s] ?? 'an unknown state; wait until the replica is Active.'}`);
    checks.push(check(id, 'fail', owner, parts.join('; '), expected, remedy.join(' ')));
  }
  return checks;
}

function ownerName(peerId: string, peers: readonly AnsweringPeer[]): string {
  const pod = podOfPeer(peerId, peers);
  return pod ? `${pod} (peer ${peerId})` : `peer ${peerId}`;
}

export interface MembershipOptions {
  expectedPeers: number;
  subject: string;
  /** Every observation, answering or not: a silent pod is not "missing from the consensus". */
  observations: readonly PeerObservation[];
  /** Recorded peer id per pod name (convergence): lets a silent pod's id count as known. */
  recordedIds?: ReadonlyMap<string, string>;
}

/**
 * Membership: one peer per replica, every pod a member, no id claimed twice, no URI under two ids (#6348).
 * The leader's view of `peers` is the reference; the others must agree with it.
 */
export function membershipChecks(peers: readonly AnsweringPeer[], opts: MembershipOptions): Check[] {
  const id = CHECK_IDS.clusterMembership;
  const expected = `${opts.expectedPeers} peer(s) in the consensus, one per replica, each with its own URI`;
  const checks: Check[] = [];
  const leaderIds = new Set(peers.map((p) => p.cluster.raft.leader).filter((l): l is string => !!l));
  const reference = peers.find((p) => leaderIds.has(p.cluster.peerId)) ?? peers[0]!;
  const view = reference.cluster.peers;
  const ids = sortDecimal(Object.keys(view));
  const podNames = opts.observations.map((o) => o.endpoint.pod);

  // Duplicate URIs first: the most specific diagnosis (qdrant/qdrant#6348).
  const byUri = new Map<string, string[]>();
  for (const peerId of ids) push(byUri, normalizeUri(view[peerId]!.uri), peerId);
  const count = `the consensus lists ${ids.length} peer(s) for ${opts.expectedPeers} replica(s)`;
  let staleByUri = 0;
  for (const [uri, holders] of byUri) {
    if (holders.length < 2) continue;
    const pod = podFromUri(uri, podNames);
    const live = holders.filter((h) => peers.some((p) => p.cluster.peerId === h));
    const stale = holders.filter((h) => !live.includes(h));
    const who = pod ?? uri;
    const liveText = live.length === 1 ? `${who} answers as ${live[0]}` : live.length > 1 ? `${pods(live)} all answer` : 'no pod answers as any of them';
    const staleText = stale.length > 0 ? ` and ${stale.join(', ')} stayed in the consensus as phantom voter(s)` : '';
    staleByUri += stale.length;
    checks.push(
      check(
        id,
        'fail',
        pod ?? opts.subject,
        `${count}; peers ${holders.join(', ')} share URI ${view[holders[0]!]!.uri} (${liveText}): ${who} came back under a new id${staleText} (qdrant/qdrant#6348)`,
        expected,
        `If ${who} lost its raft state, stop it and restore its pre-upgrade archive so it returns as ${stale[0] ?? 'its old id'} (docs/runbooks.md#restore-an-archive). ` +
          `Otherwise remove the phantom on the leader: DELETE /cluster/peer/${stale[0] ?? '<old id>'} (add ?force=true only if it holds no shard you need), then check again.`,
      ),
    );
  }

  const facts: string[] = [];
  const remedies: string[] = [];
  // Views must agree.
  const differing = peers.filter((p) => !sameKeys(p.cluster.peers, view));
  if (differing.length > 0) {
    const described = [reference, ...differing].map((p) => `${p.pod} sees ${Object.keys(p.cluster.peers).length} (${sortDecimal(Object.keys(p.cluster.peers)).join(', ')})`);
    facts.push(`peers disagree on membership: ${described.join(', ')}`);
    remedies.push('A membership change is in flight or a peer is cut off from the leader; wait a few seconds and check again.');
  }
  // Two pods answering as one id: one volume is a copy of another.
  const byOwnId = groupBy(peers, (p) => p.cluster.peerId);
  for (const [peerId, who] of byOwnId) {
    if (who.length > 1) {
      facts.push(`${pods(who)} all answer as peer ${peerId}`);
      remedies.push(`Their volumes hold the same raft state (a copied PVC): empty all but one of them and let it join as a new peer, or restore each from its own archive.`);
    }
  }
  // Pods that are not members.
  const outsiders = peers.filter((p) => !(p.cluster.peerId in view));
  if (outsiders.length > 0) {
    facts.push(`${outsiders.map((p) => `${p.pod} (peer ${p.cluster.peerId})`).join(', ')} not among the peers ${reference.pod} lists`);
    remedies.push(`Check the log of ${pods(outsiders.map((p) => p.pod))} for the bootstrap URI it joins through and that it reaches the leader on port ${QDRANT_P2P_PORT}.`);
  }
  // Ids that belong to no pod: only decidable when every pod's id is known.
  const known = new Set<string>(peers.map((p) => p.cluster.peerId));
  let unknownPods = 0;
  for (const o of opts.observations) {
    if (peers.some((p) => p.pod === o.endpoint.pod)) continue;
    const recorded = opts.recordedIds?.get(o.endpoint.pod);
    if (recorded) known.add(recorded);
    else unknownPods++;
  }
  unknownPods += Math.max(0, opts.expectedPeers - opts.observations.length);
  const unclaimed = ids.filter((p) => !known.has(p));
  const phantoms = unknownPods === 0 ? unclaimed : [];
  const duplicateUriIds = new Set([...byUri.values()].filter((h) => h.length > 1).flat());
  const newPhantoms = phantoms.filter((p) => !duplicateUriIds.has(p));
  if (newPhantoms.length > 0) {
    const formerOf = (peerId: string) => [...(opts.recordedIds?.entries() ?? [])].find(([, v]) => v === peerId)?.[0];
    facts.push(
      newPhantoms
        .map((p) => {
          const former = formerOf(p);
          return former
            ? `peer ${p} (${view[p]!.uri}) was ${former}'s id before the upgrade and no pod answers as it now`
            : `peer ${p} (${view[p]!.uri}) belongs to no pod`;
        })
        .join('; '),
    );
    remedies.push(
      `Remove peers that belong to no pod on the leader (DELETE /cluster/peer/<id>); if a pod came back under a new id, restore its raft-state archive instead.`,
    );
  }
  // A surplus that the duplicate URIs above explain is not reported twice.
  const surplusExplained = ids.length > opts.expectedPeers && ids.length - opts.expectedPeers <= staleByUri;
  if (ids.length !== opts.expectedPeers && (!surplusExplained || facts.length > 0)) {
    facts.unshift(count);
    if (ids.length < opts.expectedPeers) {
      remedies.push('A replica has not joined yet: wait for it, or read the log of the missing pod for why it cannot join.');
    } else {
      remedies.push('Find the extra peers in GET /cluster on the leader; remove those that belong to no pod (DELETE /cluster/peer/<id>).');
    }
  }
  if (facts.length > 0) {
    checks.push(check(id, 'fail', opts.subject, facts.join('; '), expected, [...new Set(remedies)].join(' ')));
  } else if (checks.length === 0) {
    const listed = ids.map((p) => {
      const pod = podOfPeer(p, peers) ?? [...(opts.recordedIds?.entries() ?? [])].find(([, v]) => v === p)?.[0];
      return pod ? `${p} (${pod})` : p;
    });
    checks.push(check(id, 'pass', opts.subject, `${ids.length} peer(s) for ${opts.expectedPeers} replica(s): ${listed.join(', ')}`, expected));
  }
  return checks;
}

// ---------------------------------------------------------------------------------------------
// Small helpers


/** The pod that answers as this peer id, if any. */
export function podOfPeer(peerId: string, peers: readonly AnsweringPeer[]): string | undefined {
  return peers.find((p) => p.cluster.peerId === peerId)?.pod;
}

function nameId(peerId: string, peers: readonly AnsweringPeer[]): string {
  const pod = podOfPeer(peerId, peers);
  return pod ? `${peerId} (${pod})` : peerId;
}

/** `http://qdrant-1.qdrant-headless:6335/` -> `qdrant-1` when that is one of the pods. */
export function podFromUri(uri: string, podNames: readonly string[]): string | undefined {
  let host: string;
  try {
    host = new URL(uri).hostname;
  } catch {
    return undefined;
  }
  const first = host.split('.')[0] ?? '';
  return podNames.includes(first) ? first : undefined;
}

function normalizeUri(uri: string): string {
  return uri.trim().replace(/\/+$/, '').toLowerCase();
}

export function pods(names: readonly string[]): string {
  return names.join(', ');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Decimal u64 strings in numeric order (never through a JS number). */
export function sortDecimal(values: readonly string[]): string[] {
  return [...values].sort((a, b) => {
    const x = toBig(a);
    const y = toBig(b);
    if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
    return cmp(a, b);
  });
}

function sortedDecimalKeys<V>(m: Map<string, V>): string[] {
  return sortDecimal([...m.keys()]);
}

function toBig(s: string): bigint | undefined {
  return /^\d+$/.test(s) ? BigInt(s) : undefined;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** Pod names grouped by a key, in input order. */
export function groupBy<T extends { pod: string }>(items: readonly T[], key: (t: T) => string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const it of items) push(m, key(it), it.pod);
  return m;
}

function sameKeys(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b);
}
