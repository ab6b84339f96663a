import { expect } from 'chai';
import { assessClusterHealth } from '../../../hook/policy/cluster-health.js';
import type { CheckId } from '../../../hook/policy/check-ids.js';
import type { Check, CheckStatus } from '../../../hook/report.js';
import type { PeerObservation } from '../../../hook/qdrant/types.js';
import { IDS, edit, editCluster, healthyCluster, shardState, unreachable, uri } from './observations.js';

const STS = 'statefulset/qdrant';
const c = (id: CheckId, status: CheckStatus, subject: string, observed: string, expected: string, remedy = ''): Check => ({
  id,
  status,
  subject,
  observed,
  expected,
  remedy,
});

const EXP = {
  reachable: (n = 3) => `all ${n} peers answer GET / and GET /cluster`,
  mode: 'the same cluster mode on every peer',
  leader: 'every peer follows the same single leader',
  term: 'one term on every peer',
  commit: 'the same commit on every peer',
  pending: '0 pending operations',
  thread: 'consensus thread working',
  shards: 'every shard replica Active',
  membership: (n = 3) => `${n} peer(s) in the consensus, one per replica, each with its own URI`,
  version: 'one version on every peer',
  ready: '/readyz 200',
};

const RISK = {
  reachable: "the silent peer's raft state is neither checked nor archived, and restarting the others may cost the cluster its quorum",
  mode: 'peers with different cluster settings do not form one consensus after the restart',
  election: 'restarting peers during an election can leave the cluster without a leader',
  commit: 'a peer restarted behind the others replays the missing entries on the new version',
  pending: 'a peer restarted with pending operations replays them on the new version',
  thread: 'a peer whose consensus has stopped may not rejoin after its restart',
  shards: 'restarting the peer that holds the only Active replica makes that shard unavailable, and a running transfer starts over',
  membership: 'phantom or missing peers count toward the quorum, so restarting a real peer can leave the cluster without a majority',
  version: 'the upgrade mixes more than two versions in one cluster, a combination Qdrant does not test',
  ready: 'a peer that is not ready holds shards that are not Active; restarting others can make them unavailable',
};
const refuse = (remedy: string, risk: string) =>
  `${remedy} To upgrade anyway, set upgradeGuard.preUpgrade.allowDegraded=true (--allow-degraded); risk: ${risk}.`;

const REM = {
  election:
    'An election is in progress or the cluster is split. Wait a few seconds and check again; if it persists, compare GET /cluster on every pod (message_send_failures shows which peers cannot reach each other) and read the logs of the peers that disagree.',
  term: 'Peers in different terms have not settled an election. Wait a few seconds and check again; a peer that stays in an older term cannot reach the leader (see message_send_failures in its GET /cluster).',
  commit:
    'A peer behind the others is still applying entries or cannot reach the leader. Check again once no collection or shard change is running; pending_operations and message_send_failures in GET /cluster of the lagging peer tell which.',
};

const [ID0, ID1, ID2] = IDS;

/** Every check of a healthy cluster where `answering` of 3 peers answer (ids of the silent ones still listed). */
function healthy(answering = 3, subject = STS): Check[] {
  const members = [ID0, ID1, ID2].map((id, i) => (i < answering ? `${id} (qdrant-${i})` : id)).join(', ');
  return [
    c('cluster.reachable', 'pass', subject, `${answering} of 3 peers answer`, EXP.reachable()),
    c('cluster.mode', 'pass', subject, `cluster mode enabled on ${answering} answering peer(s)`, EXP.mode),
    c('cluster.leader', 'pass', subject, `${answering} answering peer(s) follow leader ${ID0} (qdrant-0)`, EXP.leader),
    c('cluster.term', 'pass', subject, `term 7 on ${answering} answering peer(s)`, EXP.term),
    c('cluster.commit', 'pass', subject, `commit 1520 on ${answering} answering peer(s)`, EXP.commit),
    c('cluster.pending', 'pass', subject, `0 pending operations on ${answering} answering peer(s)`, EXP.pending),
    c('cluster.consensus-thread', 'pass', subject, `consensus thread working on ${answering} answering peer(s)`, EXP.thread),
    c('cluster.shards', 'pass', subject, '3 shard replica(s) in 1 collection(s), all Active', EXP.shards),
    c('cluster.membership', 'pass', subject, `3 peer(s) for 3 replica(s): ${members}`, EXP.membership()),
    c('peer.version', 'pass', subject, `${answering} peer(s) run 1.13.4`, EXP.version),
    c('peer.ready', 'pass', subject, `${answering} peer(s) ready`, EXP.ready),
  ];
}

/** The healthy result with the checks of `id` replaced by `replacement` (same position). */
function replace(base: Check[], id: string, replacement: Check[]): Check[] {
  const i = base.findIndex((x) => x.id === id);
  return [...base.slice(0, i), ...replacement, ...base.slice(i).filter((x) => x.id !== id)];
}

interface Row {
  name: string;
  observations: PeerObservation[];
  expectedPeers?: number;
  allowDegraded?: boolean;
  subject?: string;
  expected: Check[];
}

const H = healthyCluster();

const rows: Row[] = [
  {
    name: 'passes a healthy 3-peer cluster: one leader, one term, equal commits, nothing pending, all replicas Active',
    observations: H,
    expected: healthy(),
  },
  {
    name: 'refuses when a peer does not answer: "2 of 3 peers answer, need all 3" and names the pod and the error',
    observations: unreachable(H, 2),
    expected: replace(healthy(2), 'cluster.reachable', [
      c(
        'cluster.reachable',
        'fail',
        'qdrant-2',
        '2 of 3 peers answer, need all 3: qdrant-2 did not (connect ECONNREFUSED 10.0.0.12:6333)',
        EXP.reachable(),
        refuse('Bring qdrant-2 back (kubectl describe pod qdrant-2; kubectl logs qdrant-2), then run again.', RISK.reachable),
      ),
    ]),
  },
  {
    name: 'refuses when a pod of the StatefulSet does not exist yet',
    observations: H.slice(0, 2),
    expected: replace(
      replace(healthy(2), 'cluster.reachable', [
        c(
          'cluster.reachable',
          'fail',
          STS,
          '2 of 3 peers answer, need all 3: 1 of 3 pods do not exist or have no IP yet',
          EXP.reachable(),
          refuse('Wait until the StatefulSet runs all 3 pods (kubectl get pods), then run again.', RISK.reachable),
        ),
      ]),
      'cluster.membership',
      [c('cluster.membership', 'pass', STS, `3 peer(s) for 3 replica(s): ${ID0} (qdrant-0), ${ID1} (qdrant-1), ${ID2}`, EXP.membership())],
    ),
  },
  {
    name: 'refuses a cluster of which no peer answers, with one failure per pod and nothing else to judge',
    observations: unreachable(unreachable(unreachable(H, 0, 'timeout after 5000 ms'), 1, 'timeout after 5000 ms'), 2, 'timeout after 5000 ms'),
    expected: [0, 1, 2].map((i) =>
      c(
        'cluster.reachable',
        'fail',
        `qdrant-${i}`,
        `0 of 3 peers answer, need all 3: qdrant-${i} did not (timeout after 5000 ms)`,
        EXP.reachable(),
        refuse(`Bring qdrant-${i} back (kubectl describe pod qdrant-${i}; kubectl logs qdrant-${i}), then run again.`, RISK.reachable),
      ),
    ),
  },
  {
    name: 'refuses a pod that answers GET / but not GET /cluster',
    observations: edit(H, 1, (o) => {
      delete o.cluster;
      o.error = 'GET /cluster: 401 Unauthorized';
    }),
    expected: replace(
      replace(healthy(2), 'cluster.reachable', [
        c(
          'cluster.reachable',
          'fail',
          'qdrant-1',
          '2 of 3 peers answer, need all 3: qdrant-1 did not (GET /cluster: 401 Unauthorized)',
          EXP.reachable(),
          refuse('Bring qdrant-1 back (kubectl describe pod qdrant-1; kubectl logs qdrant-1), then run again.', RISK.reachable),
        ),
      ]),
      'cluster.membership',
      [c('cluster.membership', 'pass', STS, `3 peer(s) for 3 replica(s): ${ID0} (qdrant-0), ${ID1}, ${ID2} (qdrant-2)`, EXP.membership())],
    ),
  },
  {
    name: 'refuses when peers follow different leaders and two say they lead (split brain across terms)',
    observations: editCluster(H, 2, (x) => {
      x.raft.leader = ID2;
      x.raft.role = 'Leader';
      x.raft.term = '8';
    }),
    expected: replace(
      replace(healthy(), 'cluster.leader', [
        c(
          'cluster.leader',
          'fail',
          STS,
          `qdrant-0, qdrant-1 follow leader ${ID0} (qdrant-0); qdrant-2 follows leader ${ID2} (qdrant-2); qdrant-0, qdrant-2 each say they lead`,
          EXP.leader,
          refuse(REM.election, RISK.election),
        ),
      ]),
      'cluster.term',
      [c('cluster.term', 'fail', STS, 'term 7 on qdrant-0, qdrant-1; term 8 on qdrant-2', EXP.term, refuse(REM.term, RISK.election))],
    ),
  },
  {
    name: 'refuses while a peer knows no leader (an election in progress)',
    observations: editCluster(H, 1, (x) => {
      delete x.raft.leader;
      x.raft.role = 'Candidate';
    }),
    expected: replace(healthy(), 'cluster.leader', [
      c('cluster.leader', 'fail', STS, `qdrant-0, qdrant-2 follow leader ${ID0} (qdrant-0); qdrant-1 knows no leader`, EXP.leader, refuse(REM.election, RISK.election)),
    ]),
  },
  {
    name: 'refuses when the peer that says it leads is not the leader the others follow',
    observations: editCluster(editCluster(H, 0, (x) => (x.raft.role = 'Follower')), 1, (x) => (x.raft.role = 'Leader')),
    expected: replace(healthy(), 'cluster.leader', [
      c(
        'cluster.leader',
        'fail',
        STS,
        `qdrant-0, qdrant-1, qdrant-2 follow leader ${ID0} (qdrant-0); qdrant-1 says it leads as peer ${ID1}`,
        EXP.leader,
        refuse(REM.election, RISK.election),
      ),
    ]),
  },
  {
    name: 'refuses when a peer lags behind and still has pending operations, with the numbers',
    observations: editCluster(H, 2, (x) => {
      x.raft.commit = '1517';
      x.raft.pendingOperations = 3;
    }),
    expected: replace(
      replace(healthy(), 'cluster.commit', [
        c('cluster.commit', 'fail', STS, 'commit 1520 on qdrant-0, qdrant-1; commit 1517 on qdrant-2 (3 behind)', EXP.commit, refuse(REM.commit, RISK.commit)),
      ]),
      'cluster.pending',
      [
        c(
          'cluster.pending',
          'fail',
          'qdrant-2',
          '3 pending operation(s) at commit 1517',
          EXP.pending,
          refuse('qdrant-2 has not applied every committed entry yet. Wait until pending_operations is 0 (GET /cluster on qdrant-2) and run again.', RISK.pending),
        ),
      ],
    ),
  },
  {
    name: 'compares commits above 2^53 exactly (u64 as decimal strings)',
    observations: editCluster(healthyCluster({ commit: '18446744073709551614' }), 1, (x) => (x.raft.commit = '18446744073709551615')),
    expected: replace(
      healthy(),
      'cluster.commit',
      [
        c(
          'cluster.commit',
          'fail',
          STS,
          'commit 18446744073709551615 on qdrant-1; commit 18446744073709551614 on qdrant-0, qdrant-2 (1 behind)',
          EXP.commit,
          refuse(REM.commit, RISK.commit),
        ),
      ],
    ),
  },
  {
    name: 'refuses when the consensus thread stopped with an error, naming the error',
    observations: editCluster(H, 1, (x) => (x.consensusThread = { status: 'stopped_with_err', err: 'Failed to apply entry 1498' })),
    expected: replace(healthy(), 'cluster.consensus-thread', [
      c(
        'cluster.consensus-thread',
        'fail',
        'qdrant-1',
        'consensus thread stopped_with_err: Failed to apply entry 1498',
        EXP.thread,
        refuse(
          'Consensus stopped on qdrant-1: read the error in its log (kubectl logs qdrant-1), fix the cause, then restart the pod (kubectl delete pod qdrant-1).',
          RISK.thread,
        ),
      ),
    ]),
  },
  {
    name: 'refuses while a shard replica is Partial (a transfer running), naming the collection, shard and owner',
    observations: shardState(H, 1, 'Partial'),
    expected: replace(healthy(), 'cluster.shards', [
      c(
        'cluster.shards',
        'fail',
        `qdrant-1 (peer ${ID1})`,
        'collection "docs" shard 0: Partial per qdrant-0, qdrant-1, qdrant-2',
        EXP.shards,
        refuse('Partial: a transfer into this replica is running: wait until it finishes (GET /collections/<name>/cluster lists shard_transfers).', RISK.shards),
      ),
    ]),
  },
  {
    name: 'refuses an ActiveRead replica (1.19): it serves reads but takes no writes, so it is not Active',
    observations: shardState(H, 2, 'ActiveRead'),
    expected: replace(healthy(), 'cluster.shards', [
      c(
        'cluster.shards',
        'fail',
        `qdrant-2 (peer ${ID2})`,
        'collection "docs" shard 0: ActiveRead per qdrant-0, qdrant-1, qdrant-2',
        EXP.shards,
        refuse('ActiveRead: an ActiveRead replica (1.19+) serves reads but takes no writes yet: wait until it is Active.', RISK.shards),
      ),
    ]),
  },
  {
    name: 'refuses a replica one peer sees as Dead while the others see it Active, and says who saw what',
    observations: shardState(H, 2, 'Dead', [0]),
    expected: replace(healthy(), 'cluster.shards', [
      c(
        'cluster.shards',
        'fail',
        `qdrant-2 (peer ${ID2})`,
        'collection "docs" shard 0: Active per qdrant-1, qdrant-2, Dead per qdrant-0',
        EXP.shards,
        refuse(
          'Dead: a Dead replica is recovered by a transfer from an Active replica of the same shard; if none is Active, recover the shard from a snapshot.',
          RISK.shards,
        ),
      ),
    ]),
  },
  {
    name: 'skips the shard rule when no peer reported its collections, and says so',
    observations: healthyCluster({ collections: false }),
    expected: replace(healthy(), 'cluster.shards', [c('cluster.shards', 'skip', STS, 'collections were not observed on any peer', EXP.shards)]),
  },
  {
    name: 'passes a cluster without collections',
    observations: healthyCluster().map((o) => ({ ...o, collections: [] })),
    expected: replace(healthy(), 'cluster.shards', [c('cluster.shards', 'pass', STS, 'no collections', EXP.shards)]),
  },
  {
    name: 'refuses a duplicate peer: two ids under one URI (qdrant/qdrant#6348), naming the phantom id to remove',
    observations: [0, 1, 2].reduce((obs, i) => editCluster(obs, i, (x) => (x.peers['999'] = { uri: uri(1) })), H),
    expected: replace(healthy(), 'cluster.membership', [
      c(
        'cluster.membership',
        'fail',
        'qdrant-1',
        `the consensus lists 4 peer(s) for 3 replica(s); peers 999, ${ID1} share URI ${uri(1)} (qdrant-1 answers as ${ID1}): qdrant-1 came back under a new id and 999 stayed in the consensus as phantom voter(s) (qdrant/qdrant#6348)`,
        EXP.membership(),
        refuse(
          'If qdrant-1 lost its raft state, stop it and restore its pre-upgrade archive so it returns as 999 (docs/runbooks.md#restore-an-archive). Otherwise remove the phantom on the leader: DELETE /cluster/peer/999 (add ?force=true only if it holds no shard you need), then check again.',
          RISK.membership,
        ),
      ),
    ]),
  },
  {
    name: 'refuses a phantom peer that belongs to no pod (4 peers in the consensus for 3 replicas)',
    observations: [0, 1, 2].reduce((obs, i) => editCluster(obs, i, (x) => (x.peers['4242'] = { uri: 'http://10.0.0.99:6335/' })), H),
    expected: replace(healthy(), 'cluster.membership', [
      c(
        'cluster.membership',
        'fail',
        STS,
        'the consensus lists 4 peer(s) for 3 replica(s); peer 4242 (http://10.0.0.99:6335/) belongs to no pod',
        EXP.membership(),
        refuse(
          'Remove peers that belong to no pod on the leader (DELETE /cluster/peer/<id>); if a pod came back under a new id, restore its raft-state archive instead. Find the extra peers in GET /cluster on the leader; remove those that belong to no pod (DELETE /cluster/peer/<id>).',
          RISK.membership,
        ),
      ),
    ]),
  },
  {
    name: 'refuses a replica that never joined: it runs its own one-peer consensus',
    observations: editCluster(
      [0, 1].reduce((obs, i) => editCluster(obs, i, (x) => delete x.peers[ID2]), H),
      2,
      (x) => {
        x.peers = { [ID2]: { uri: uri(2) } };
        x.raft.leader = ID2;
        x.raft.role = 'Leader';
        x.raft.term = '1';
        x.raft.commit = '3';
      },
    ),
    expected: [
      c('cluster.reachable', 'pass', STS, '3 of 3 peers answer', EXP.reachable()),
      c('cluster.mode', 'pass', STS, 'cluster mode enabled on 3 answering peer(s)', EXP.mode),
      c(
        'cluster.leader',
        'fail',
        STS,
        `qdrant-0, qdrant-1 follow leader ${ID0} (qdrant-0); qdrant-2 follows leader ${ID2} (qdrant-2); qdrant-0, qdrant-2 each say they lead`,
        EXP.leader,
        refuse(REM.election, RISK.election),
      ),
      c('cluster.term', 'fail', STS, 'term 1 on qdrant-2; term 7 on qdrant-0, qdrant-1', EXP.term, refuse(REM.term, RISK.election)),
      c('cluster.commit', 'fail', STS, 'commit 1520 on qdrant-0, qdrant-1; commit 3 on qdrant-2 (1517 behind)', EXP.commit, refuse(REM.commit, RISK.commit)),
      c('cluster.pending', 'pass', STS, '0 pending operations on 3 answering peer(s)', EXP.pending),
      c('cluster.consensus-thread', 'pass', STS, 'consensus thread working on 3 answering peer(s)', EXP.thread),
      c('cluster.shards', 'pass', STS, '3 shard replica(s) in 1 collection(s), all Active', EXP.shards),
      c(
        'cluster.membership',
        'fail',
        STS,
        `the consensus lists 2 peer(s) for 3 replica(s); peers disagree on membership: qdrant-0 sees 2 (${ID0}, ${ID1}), qdrant-2 sees 1 (${ID2}); qdrant-2 (peer ${ID2}) not among the peers qdrant-0 lists`,
        EXP.membership(),
        refuse(
          'A membership change is in flight or a peer is cut off from the leader; wait a few seconds and check again. Check the log of qdrant-2 for the bootstrap URI it joins through and that it reaches the leader on port 6335. A replica has not joined yet: wait for it, or read the log of the missing pod for why it cannot join.',
          RISK.membership,
        ),
      ),
      c('peer.version', 'pass', STS, '3 peer(s) run 1.13.4', EXP.version),
      c('peer.ready', 'pass', STS, '3 peer(s) ready', EXP.ready),
    ],
  },
  {
    name: 'refuses two pods answering as the same peer id (one volume copied from another)',
    observations: editCluster(H, 2, (x) => (x.peerId = ID1)),
    expected: replace(healthy(), 'cluster.membership', [
      c(
        'cluster.membership',
        'fail',
        STS,
        `qdrant-1, qdrant-2 all answer as peer ${ID1}; peer ${ID2} (${uri(2)}) belongs to no pod`,
        EXP.membership(),
        refuse(
          'Their volumes hold the same raft state (a copied PVC): empty all but one of them and let it join as a new peer, or restore each from its own archive. Remove peers that belong to no pod on the leader (DELETE /cluster/peer/<id>); if a pod came back under a new id, restore its raft-state archive instead.',
          RISK.membership,
        ),
      ),
    ]),
  },
  {
    name: 'refuses a cluster whose pods run different versions: an earlier upgrade did not finish',
    observations: edit(H, 2, (o) => (o.version = { version: 'v1.13.5' })),
    expected: replace(healthy(), 'peer.version', [
      c(
        'peer.version',
        'fail',
        STS,
        'qdrant-0, qdrant-1 run 1.13.4; qdrant-2 runs 1.13.5: an earlier upgrade did not finish',
        EXP.version,
        refuse(
          'Finish the earlier upgrade first: if a staged rollout stopped, fix the reported peer and run post-upgrade --resume; otherwise bring every pod to one version.',
          RISK.version,
        ),
      ),
    ]),
  },
  {
    name: 'treats v1.13.4 and 1.13.4 as one version',
    observations: edit(H, 0, (o) => (o.version = { version: 'v1.13.4' })),
    expected: healthy(),
  },
  {
    name: 'refuses a peer whose /readyz answers 503, with its text',
    observations: edit(H, 1, (o) => {
      o.ready = false;
      o.readyText = 'some shards are not ready';
    }),
    expected: replace(healthy(), 'peer.ready', [
      c(
        'peer.ready',
        'fail',
        'qdrant-1',
        '/readyz 503 some shards are not ready',
        EXP.ready,
        refuse(
          'qdrant-1 is not ready: in cluster mode /readyz waits until the peer reached the cluster commit and its shards are Active. Wait, then look at cluster.shards and GET /cluster on qdrant-1.',
          RISK.ready,
        ),
      ),
    ]),
  },
  {
    name: 'judges a single node with cluster mode disabled on version and readiness only',
    observations: edit(healthyCluster({ n: 1 }), 0, (o) => {
      o.cluster = { status: 'disabled' };
      delete o.collections;
    }),
    expectedPeers: 1,
    subject: 'cluster',
    expected: [
      c('cluster.reachable', 'pass', 'cluster', '1 of 1 peers answer', EXP.reachable(1)),
      c('cluster.mode', 'pass', 'cluster', 'cluster mode disabled (single node): health is version and readiness only', EXP.mode),
      c('peer.version', 'pass', 'cluster', '1 peer(s) run 1.13.4', EXP.version),
      c('peer.ready', 'pass', 'cluster', '1 peer(s) ready', EXP.ready),
    ],
  },
  {
    name: 'warns when 3 replicas run with cluster mode disabled: they are independent nodes',
    observations: H.map((o) => ({ ...o, cluster: { status: 'disabled' as const } })),
    expected: [
      c('cluster.reachable', 'pass', STS, '3 of 3 peers answer', EXP.reachable()),
      c(
        'cluster.mode',
        'warn',
        STS,
        'cluster mode disabled with 3 replicas: each pod is an independent node with its own data',
        'cluster mode enabled when replicas > 1',
        'Enable cluster mode (config.cluster.enabled=true) if the replicas are meant to share collections; as it is, the consensus checks do not apply.',
      ),
      c('peer.version', 'pass', STS, '3 peer(s) run 1.13.4', EXP.version),
      c('peer.ready', 'pass', STS, '3 peer(s) ready', EXP.ready),
    ],
  },
  {
    name: 'refuses a cluster where one pod has cluster mode disabled and the others enabled',
    observations: edit(H, 2, (o) => (o.cluster = { status: 'disabled' })),
    expected: [
      c('cluster.reachable', 'pass', STS, '3 of 3 peers answer', EXP.reachable()),
      c(
        'cluster.mode',
        'fail',
        STS,
        'cluster mode disabled on qdrant-2, enabled on qdrant-0, qdrant-1',
        EXP.mode,
        refuse(
          'Set cluster.enabled the same way for every pod (the chart sets QDRANT__CLUSTER__ENABLED for all of them); a pod with a different config file or environment is the odd one out.',
          RISK.mode,
        ),
      ),
      ...healthy(2).filter((x) => !['cluster.reachable', 'cluster.mode', 'peer.version', 'peer.ready', 'cluster.shards', 'cluster.membership'].includes(x.id)),
      c('cluster.shards', 'pass', STS, '3 shard replica(s) in 1 collection(s), all Active', EXP.shards),
      c('cluster.membership', 'pass', STS, `3 peer(s) for 3 replica(s): ${ID0} (qdrant-0), ${ID1} (qdrant-1), ${ID2}`, EXP.membership()),
      c('peer.version', 'pass', STS, '3 peer(s) run 1.13.4', EXP.version),
      c('peer.ready', 'pass', STS, '3 peer(s) ready', EXP.ready),
    ],
  },
  {
    name: 'with allowDegraded, a degraded cluster passes with warnings that name the risk accepted',
    observations: editCluster(unreachable(H, 2), 1, (x) => (x.raft.pendingOperations = 2)),
    allowDegraded: true,
    expected: replace(
      replace(healthy(2), 'cluster.reachable', [
        c(
          'cluster.reachable',
          'warn',
          'qdrant-2',
          '2 of 3 peers answer, need all 3: qdrant-2 did not (connect ECONNREFUSED 10.0.0.12:6333) (allowed by allowDegraded)',
          EXP.reachable(),
          `Going ahead because allowDegraded is set; risk accepted: ${RISK.reachable}. Without the override: Bring qdrant-2 back (kubectl describe pod qdrant-2; kubectl logs qdrant-2), then run again.`,
        ),
      ]),
      'cluster.pending',
      [
        c(
          'cluster.pending',
          'warn',
          'qdrant-1',
          '2 pending operation(s) at commit 1520 (allowed by allowDegraded)',
          EXP.pending,
          `Going ahead because allowDegraded is set; risk accepted: ${RISK.pending}. Without the override: qdrant-1 has not applied every committed entry yet. Wait until pending_operations is 0 (GET /cluster on qdrant-1) and run again.`,
        ),
      ],
    ),
  },
];

describe('policy/cluster-health: pre-upgrade cluster health (docs/how-it-works.md#the-timeline-of-one-helm-upgrade, pre-upgrade)', () => {
  for (const row of rows) {
    it(row.name, () => {
      const got = assessClusterHealth(row.observations, {
        expectedPeers: row.expectedPeers ?? 3,
        subject: row.subject ?? STS,
        ...(row.allowDegraded !== undefined ? { allowDegraded: row.allowDegraded } : {}),
      });
      expect(got).to.deep.equal(row.expected);
    });
  }

  it('never leaves a failure in place when allowDegraded is set, and never invents one without it', () => {
    const broken = shardState(editCluster(unreachable(H, 0), 1, (x) => (x.consensusThread = { status: 'stopped' })), 2, 'Dead');
    const strict = assessClusterHealth(broken, { expectedPeers: 3 });
    const allowed = assessClusterHealth(broken, { expectedPeers: 3, allowDegraded: true });
    expect(strict.filter((x) => x.status === 'fail').length).to.be.greaterThan(0);
    expect(allowed.map((x) => x.status)).to.deep.equal(strict.map((x) => (x.status === 'fail' ? 'warn' : x.status)));
  });

  it('does not change its input', () => {
    const input = healthyCluster();
    const copy = structuredClone(input);
    assessClusterHealth(input, { expectedPeers: 3 });
    expect(input).to.deep.equal(copy);
  });

});
