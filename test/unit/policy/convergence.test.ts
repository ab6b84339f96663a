import { expect } from 'chai';
import {
  assessConvergence,
  staleSelfMetadataIsExpected,
  type ConvergenceInput,
  type RecordedIdentity,
} from '../../../hook/policy/convergence.js';
import { GuardError } from '../../../hook/errors.js';
import type { CheckId } from '../../../hook/policy/check-ids.js';
import type { Check, CheckStatus } from '../../../hook/report.js';
import { IDS, edit, editCluster, healthyCluster, unreachable, uri } from './observations.js';

const c = (id: CheckId, status: CheckStatus, subject: string, observed: string, expected: string, remedy = ''): Check => ({
  id,
  status,
  subject,
  observed,
  expected,
  remedy,
});
const [ID0, ID1, ID2] = IDS;
const archive = (i: number) => `raft-qdrant-${i}-1.13.4-to-1.13.5-20250321T101502Z.tar.gz`;
const RECORD: Record<string, RecordedIdentity> = Object.fromEntries(
  IDS.map((id, i) => [
    String(i),
    { pod: `qdrant-${i}`, pvc: `qdrant-storage-qdrant-${i}`, peerId: id, version: '1.13.4', archive: archive(i), classification: 'initialized' as const },
  ]),
);

const NO_META_API = (target: string, subject = 'cluster') =>
  c(
    'peer.metadata',
    'skip',
    subject,
    'peer metadata is read from 1.16.0 on (docs/qdrant-facts.md#peer-metadata-api); versions come from GET / on each pod (peer.version)',
    `every peer_metadata entry at ${target}`,
  );
const idPass = (i: number) => c('peer.identity', 'pass', `qdrant-${i}`, `peer ${IDS[i]}, as recorded`, `peer ${IDS[i]} (recorded before the upgrade)`);
const verPass = (i: number, v: string, observed = v) => c('peer.version', 'pass', `qdrant-${i}`, observed, v);
const NO_RECORD = c(
  'peer.identity',
  'skip',
  'cluster',
  'no upgrade record: nothing to compare peer ids with (a fresh install, or helm test before the first guarded upgrade)',
  'each pod answers with the peer id recorded before the upgrade',
);

/** The consensus part of a converged 3-peer cluster (cluster-health.ts rules, no override text). */
function consensus(answering = 3, members = `${ID0} (qdrant-0), ${ID1} (qdrant-1), ${ID2} (qdrant-2)`): Check[] {
  return [
    c('cluster.mode', 'pass', 'cluster', `cluster mode enabled on ${answering} answering peer(s)`, 'the same cluster mode on every peer'),
    c('cluster.leader', 'pass', 'cluster', `${answering} answering peer(s) follow leader ${ID0} (qdrant-0)`, 'every peer follows the same single leader'),
    c('cluster.term', 'pass', 'cluster', `term 7 on ${answering} answering peer(s)`, 'one term on every peer'),
    c('cluster.commit', 'pass', 'cluster', `commit 1520 on ${answering} answering peer(s)`, 'the same commit on every peer'),
    c('cluster.pending', 'pass', 'cluster', `0 pending operations on ${answering} answering peer(s)`, '0 pending operations'),
    c('cluster.consensus-thread', 'pass', 'cluster', `consensus thread working on ${answering} answering peer(s)`, 'consensus thread working'),
    c('cluster.shards', 'pass', 'cluster', '3 shard replica(s) in 1 collection(s), all Active', 'every shard replica Active'),
    c('cluster.membership', 'pass', 'cluster', `3 peer(s) for 3 replica(s): ${members}`, '3 peer(s) in the consensus, one per replica, each with its own URI'),
  ];
}
const REACH3 = c('cluster.reachable', 'pass', 'cluster', '3 of 3 peers answer', 'all 3 peers answer GET / and GET /cluster');

function converged(target = '1.13.5'): Check[] {
  return [REACH3, NO_META_API(target), ...[0, 1, 2].flatMap((i) => [verPass(i, target), idPass(i)]), ...consensus()];
}

function replace(base: Check[], match: (x: Check) => boolean, replacement: Check[]): Check[] {
  const i = base.findIndex(match);
  return [...base.slice(0, i), ...replacement, ...base.slice(i + 1)];
}

interface Row {
  name: string;
  input: Partial<ConvergenceInput> & Pick<ConvergenceInput, 'observations'>;
  expected: Check[];
}

const UP = healthyCluster({ version: '1.13.5' });
const META = (v: string) => `every peer_metadata entry at ${v}`;

const rows: Row[] = [
  {
    name: 'passes when every peer came back as itself on the target version in one healthy consensus',
    input: { observations: UP },
    expected: converged(),
  },
  {
    name: 'accepts the target as an image tag: v prefix ignored, a variant label is the same release and is named',
    input: { observations: UP, targetVersion: 'v1.13.5-unprivileged' },
    expected: [
      REACH3,
      NO_META_API('1.13.5-unprivileged'),
      ...[0, 1, 2].flatMap((i) => [verPass(i, '1.13.5-unprivileged', '1.13.5 (label differs from 1.13.5-unprivileged: same release)'), idPass(i)]),
      ...consensus(),
    ],
  },
  {
    name: 'fails a pod still on the old version and says where to look',
    input: { observations: edit(UP, 0, (o) => (o.version = { version: '1.13.4' })) },
    expected: replace(converged(), (x) => x.id === 'peer.version' && x.subject === 'qdrant-0', [
      c(
        'peer.version',
        'fail',
        'qdrant-0',
        'qdrant-0 runs 1.13.4, target 1.13.5',
        '1.13.5',
        "The rollout has not reached qdrant-0, or its image is overridden: see rollout.complete and kubectl get pod qdrant-0 -o jsonpath='{.spec.containers[*].image}'.",
      ),
    ]),
  },
  {
    name: 'fails a pod that reports no version or a version that is not semver',
    input: {
      observations: edit(
        edit(UP, 1, (o) => delete o.version),
        2,
        (o) => (o.version = { version: 'dev' }),
      ),
    },
    expected: replace(
      replace(converged(), (x) => x.id === 'peer.version' && x.subject === 'qdrant-1', [
        c('peer.version', 'fail', 'qdrant-1', 'GET / reported no version', '1.13.5', 'Read GET / on qdrant-1 by hand; a Qdrant that does not report its version is not the expected image.'),
      ]),
      (x) => x.id === 'peer.version' && x.subject === 'qdrant-2',
      [
        c(
          'peer.version',
          'fail',
          'qdrant-2',
          'GET / reported "dev", not a semver version',
          '1.13.5',
          "Check the image qdrant-2 runs (kubectl get pod qdrant-2 -o jsonpath='{.spec.containers[*].image}').",
        ),
      ],
    ),
  },
  {
    name: 'fails a peer that came back under a new id: its raft state was lost, restore the recorded archive (#6229, #6348)',
    input: {
      observations: [0, 1, 2].reduce(
        (obs, i) => editCluster(obs, i, (x) => (x.peers['123'] = { uri: uri(1) })),
        editCluster(UP, 1, (x) => (x.peerId = '123')),
      ),
    },
    expected: [
      REACH3,
      NO_META_API('1.13.5'),
      verPass(0, '1.13.5'),
      idPass(0),
      verPass(1, '1.13.5'),
      c(
        'peer.identity',
        'fail',
        'qdrant-1',
        `qdrant-1 came back as peer 123 instead of ${ID1}: its raft state was lost (qdrant/qdrant#6229)`,
        `peer ${ID1} (recorded before the upgrade)`,
        `Scale the StatefulSet to 0 (kubectl scale statefulset qdrant --replicas=0), restore ${archive(1)} on pvc/qdrant-storage-qdrant-1 with \`qdrant-upgrade-guard restore --archive /qdrant/storage/.upgrade-guard/${archive(1)} --storage /qdrant/storage\`, then scale back (docs/runbooks.md#restore-an-archive). Afterwards remove the id it minted from the consensus on the leader (DELETE /cluster/peer/123).`,
      ),
      verPass(2, '1.13.5'),
      idPass(2),
      ...consensus().slice(0, 7),
      c(
        'cluster.membership',
        'fail',
        'qdrant-1',
        `the consensus lists 4 peer(s) for 3 replica(s); peers 123, ${ID1} share URI ${uri(1)} (qdrant-1 answers as 123): qdrant-1 came back under a new id and ${ID1} stayed in the consensus as phantom voter(s) (qdrant/qdrant#6348)`,
        '3 peer(s) in the consensus, one per replica, each with its own URI',
        `If qdrant-1 lost its raft state, stop it and restore its pre-upgrade archive so it returns as ${ID1} (docs/runbooks.md#restore-an-archive). Otherwise remove the phantom on the leader: DELETE /cluster/peer/${ID1} (add ?force=true only if it holds no shard you need), then check again.`,
      ),
    ],
  },
  {
    name: 'names the StatefulSet, storage path and archive dir it is given in the restore remedy; without an archive it says so',
    input: {
      observations: editCluster(UP, 2, (x) => (x.peerId = '77')),
      record: { ...RECORD, '2': { pod: 'qdrant-2', pvc: 'data-qdrant-2', peerId: ID2, version: '1.13.4', classification: 'initialized' } },
      statefulset: 'vectors',
      storagePath: '/data',
    },
    expected: [
      REACH3,
      NO_META_API('1.13.5'),
      verPass(0, '1.13.5'),
      idPass(0),
      verPass(1, '1.13.5'),
      idPass(1),
      verPass(2, '1.13.5'),
      c(
        'peer.identity',
        'fail',
        'qdrant-2',
        `qdrant-2 came back as peer 77 instead of ${ID2}: its raft state was lost (qdrant/qdrant#6229)`,
        `peer ${ID2} (recorded before the upgrade)`,
        `No raft-state archive of pvc/data-qdrant-2 was found. Restore raft_state.json from a backup or VolumeSnapshot taken before the loss; if there is none, remove the old peer on the leader (DELETE /cluster/peer/${ID2}), empty the volume and let the pod join as a new peer (docs/runbooks.md#no-archive-to-restore). Afterwards remove the id it minted from the consensus on the leader (DELETE /cluster/peer/77).`,
      ),
      ...consensus().slice(0, 7),
      c(
        'cluster.membership',
        'fail',
        'cluster',
        `qdrant-2 (peer 77) not among the peers qdrant-0 lists; peer ${ID2} (${uri(2)}) was qdrant-2's id before the upgrade and no pod answers as it now`,
        '3 peer(s) in the consensus, one per replica, each with its own URI',
        'Check the log of qdrant-2 for the bootstrap URI it joins through and that it reaches the leader on port 6335. Remove peers that belong to no pod on the leader (DELETE /cluster/peer/<id>); if a pod came back under a new id, restore its raft-state archive instead.',
      ),
    ],
  },
  {
    name: 'archive remedy uses the archive dir it is given',
    input: {
      observations: editCluster(UP, 2, (x) => (x.peerId = '77')),
      archiveDir: '/qdrant/snapshots/.upgrade-guard',
    },
    expected: [
      REACH3,
      NO_META_API('1.13.5'),
      verPass(0, '1.13.5'),
      idPass(0),
      verPass(1, '1.13.5'),
      idPass(1),
      verPass(2, '1.13.5'),
      c(
        'peer.identity',
        'fail',
        'qdrant-2',
        `qdrant-2 came back as peer 77 instead of ${ID2}: its raft state was lost (qdrant/qdrant#6229)`,
        `peer ${ID2} (recorded before the upgrade)`,
        `Scale the StatefulSet to 0 (kubectl scale statefulset qdrant --replicas=0), restore ${archive(2)} on pvc/qdrant-storage-qdrant-2 with \`qdrant-upgrade-guard restore --archive /qdrant/snapshots/.upgrade-guard/${archive(2)} --storage /qdrant/storage\`, then scale back (docs/runbooks.md#restore-an-archive). Afterwards remove the id it minted from the consensus on the leader (DELETE /cluster/peer/77).`,
      ),
      ...consensus().slice(0, 7),
      c(
        'cluster.membership',
        'fail',
        'cluster',
        `qdrant-2 (peer 77) not among the peers qdrant-0 lists; peer ${ID2} (${uri(2)}) was qdrant-2's id before the upgrade and no pod answers as it now`,
        '3 peer(s) in the consensus, one per replica, each with its own URI',
        'Check the log of qdrant-2 for the bootstrap URI it joins through and that it reaches the leader on port 6335. Remove peers that belong to no pod on the leader (DELETE /cluster/peer/<id>); if a pod came back under a new id, restore its raft-state archive instead.',
      ),
    ],
  },
  {
    name: 'skips identity with a reason when there is no record (helm test after a fresh install)',
    input: { observations: UP, record: undefined },
    expected: [REACH3, NO_RECORD, NO_META_API('1.13.5'), ...[0, 1, 2].map((i) => verPass(i, '1.13.5')), ...consensus()],
  },
  {
    name: 'skips identity of a replica added after the record and of a volume that was fresh before the upgrade',
    input: {
      observations: UP,
      record: {
        '0': RECORD['0']!,
        '1': { pod: 'qdrant-1', pvc: 'qdrant-storage-qdrant-1', peerId: null, version: '1.13.4', classification: 'fresh' },
      },
    },
    expected: [
      REACH3,
      NO_META_API('1.13.5'),
      verPass(0, '1.13.5'),
      idPass(0),
      verPass(1, '1.13.5'),
      c('peer.identity', 'skip', 'qdrant-1', 'the volume was fresh before the upgrade: no earlier identity to keep', 'a recorded peer id'),
      verPass(2, '1.13.5'),
      c('peer.identity', 'skip', 'qdrant-2', 'no recorded peer id for ordinal 2 (a replica added after pre-upgrade)', 'a recorded peer id'),
      ...consensus(),
    ],
  },
  {
    name: 'fails a silent pod once (cluster.reachable) and skips its per-pod checks; its recorded id is no phantom',
    input: { observations: unreachable(UP, 2) },
    expected: [
      c(
        'cluster.reachable',
        'fail',
        'qdrant-2',
        '2 of 3 peers answer, need all 3: qdrant-2 did not (connect ECONNREFUSED 10.0.0.12:6333)',
        'all 3 peers answer GET / and GET /cluster',
        'Bring qdrant-2 back (kubectl describe pod qdrant-2; kubectl logs qdrant-2), then run again.',
      ),
      NO_META_API('1.13.5'),
      verPass(0, '1.13.5'),
      idPass(0),
      verPass(1, '1.13.5'),
      idPass(1),
      c('peer.version', 'skip', 'qdrant-2', 'qdrant-2 did not answer (see cluster.reachable)', '1.13.5'),
      c('peer.identity', 'skip', 'qdrant-2', 'qdrant-2 did not answer (see cluster.reachable)', `peer ${ID2} (recorded before the upgrade)`),
      ...consensus(2, `${ID0} (qdrant-0), ${ID1} (qdrant-1), ${ID2} (qdrant-2)`),
    ],
  },
  {
    name: 'fails a consensus that is not settled after the upgrade, with no override offered',
    input: { observations: editCluster(UP, 1, (x) => (x.raft.pendingOperations = 4)) },
    expected: replace(converged(), (x) => x.id === 'cluster.pending', [
      c(
        'cluster.pending',
        'fail',
        'qdrant-1',
        '4 pending operation(s) at commit 1520',
        '0 pending operations',
        'qdrant-1 has not applied every committed entry yet. Wait until pending_operations is 0 (GET /cluster on qdrant-1) and run again.',
      ),
    ]),
  },
  {
    name: 'on 1.16+ passes when every peer_metadata entry names the target',
    input: { observations: healthyCluster({ version: '1.16.1', peerMetadata: true }), targetVersion: '1.16.1', record: undefined },
    expected: [
      REACH3,
      NO_RECORD,
      ...[0, 1, 2].flatMap((i) => [verPass(i, '1.16.1'), c('peer.metadata', 'pass', `qdrant-${i}`, '3 entries, all 1.16.1', META('1.16.1'))]),
      ...consensus(),
    ],
  },
  {
    name: 'on 1.16+ fails a peer whose metadata still names the old version of another peer',
    input: {
      observations: edit(healthyCluster({ version: '1.16.1', peerMetadata: true }), 0, (o) => (o.peerMetadata![ID2] = { version: '1.15.2' })),
      targetVersion: '1.16.1',
      record: undefined,
    },
    expected: [
      REACH3,
      NO_RECORD,
      verPass(0, '1.16.1'),
      c(
        'peer.metadata',
        'fail',
        'qdrant-0',
        `qdrant-0 reports peer ${ID2} (qdrant-2) at 1.15.2; target 1.16.1`,
        META('1.16.1'),
        'A peer updates its entry once it runs the new version and the entry is committed. Wait and check again; if it never changes, that peer was not upgraded or its consensus stopped (see peer.version and cluster.consensus-thread).',
      ),
      ...[1, 2].flatMap((i) => [verPass(i, '1.16.1'), c('peer.metadata', 'pass', `qdrant-${i}`, '3 entries, all 1.16.1', META('1.16.1'))]),
      ...consensus(),
    ],
  },
  {
    name: 'on 1.16+ warns when telemetry reported no peer metadata (not verified, not failed)',
    input: {
      observations: edit(healthyCluster({ version: '1.16.1', peerMetadata: true }), 1, (o) => delete o.peerMetadata),
      targetVersion: '1.16.1',
      record: undefined,
    },
    expected: [
      REACH3,
      NO_RECORD,
      verPass(0, '1.16.1'),
      c('peer.metadata', 'pass', 'qdrant-0', '3 entries, all 1.16.1', META('1.16.1')),
      verPass(1, '1.16.1'),
      c(
        'peer.metadata',
        'warn',
        'qdrant-1',
        'qdrant-1 runs 1.16.1 but its telemetry reported no peer_metadata: not verified',
        META('1.16.1'),
        'Check that the API key the hook uses may read GET /telemetry?details_level=3.',
      ),
      verPass(2, '1.16.1'),
      c('peer.metadata', 'pass', 'qdrant-2', '3 entries, all 1.16.1', META('1.16.1')),
      ...consensus(),
    ],
  },
  {
    name: 'passes stale self-metadata of a single-peer cluster on 1.14.x with a note (docs/qdrant-facts.md#single-peer-stale-metadata)',
    input: {
      observations: edit(healthyCluster({ n: 1, version: '1.14.1', peerMetadata: true, collections: false }), 0, (o) => (o.peerMetadata![ID0] = { version: '1.14.0' })),
      targetVersion: '1.14.1',
      expectedReplicas: 1,
      record: undefined,
    },
    expected: [
      c('cluster.reachable', 'pass', 'cluster', '1 of 1 peers answer', 'all 1 peers answer GET / and GET /cluster'),
      NO_RECORD,
      verPass(0, '1.14.1'),
      c(
        'peer.metadata',
        'pass',
        'qdrant-0',
        `1 entry; peer ${ID0} (qdrant-0) at 1.14.0: a single-peer cluster on 1.14.1 never refreshes its own entry (docs/qdrant-facts.md#single-peer-stale-metadata), not a failure`,
        META('1.14.1'),
      ),
      c('cluster.mode', 'pass', 'cluster', 'cluster mode enabled on 1 answering peer(s)', 'the same cluster mode on every peer'),
      c('cluster.leader', 'pass', 'cluster', `1 answering peer(s) follow leader ${ID0} (qdrant-0)`, 'every peer follows the same single leader'),
      c('cluster.term', 'pass', 'cluster', 'term 7 on 1 answering peer(s)', 'one term on every peer'),
      c('cluster.commit', 'pass', 'cluster', 'commit 1520 on 1 answering peer(s)', 'the same commit on every peer'),
      c('cluster.pending', 'pass', 'cluster', '0 pending operations on 1 answering peer(s)', '0 pending operations'),
      c('cluster.consensus-thread', 'pass', 'cluster', 'consensus thread working on 1 answering peer(s)', 'consensus thread working'),
      c('cluster.shards', 'skip', 'cluster', 'collections were not observed on any peer', 'every shard replica Active'),
      c('cluster.membership', 'pass', 'cluster', `1 peer(s) for 1 replica(s): ${ID0} (qdrant-0)`, '1 peer(s) in the consensus, one per replica, each with its own URI'),
    ],
  },
  {
    name: 'fails stale self-metadata of a single peer on 1.15.0, where Qdrant fixed the refresh',
    input: {
      observations: edit(healthyCluster({ n: 1, version: '1.15.0', peerMetadata: true, collections: false }), 0, (o) => (o.peerMetadata![ID0] = { version: '1.14.1' })),
      targetVersion: '1.15.0',
      expectedReplicas: 1,
      record: undefined,
    },
    expected: [
      c('cluster.reachable', 'pass', 'cluster', '1 of 1 peers answer', 'all 1 peers answer GET / and GET /cluster'),
      NO_RECORD,
      verPass(0, '1.15.0'),
      c(
        'peer.metadata',
        'fail',
        'qdrant-0',
        `qdrant-0 reports peer ${ID0} (qdrant-0) at 1.14.1; target 1.15.0`,
        META('1.15.0'),
        'A peer updates its entry once it runs the new version and the entry is committed. Wait and check again; if it never changes, that peer was not upgraded or its consensus stopped (see peer.version and cluster.consensus-thread).',
      ),
      c('cluster.mode', 'pass', 'cluster', 'cluster mode enabled on 1 answering peer(s)', 'the same cluster mode on every peer'),
      c('cluster.leader', 'pass', 'cluster', `1 answering peer(s) follow leader ${ID0} (qdrant-0)`, 'every peer follows the same single leader'),
      c('cluster.term', 'pass', 'cluster', 'term 7 on 1 answering peer(s)', 'one term on every peer'),
      c('cluster.commit', 'pass', 'cluster', 'commit 1520 on 1 answering peer(s)', 'the same commit on every peer'),
      c('cluster.pending', 'pass', 'cluster', '0 pending operations on 1 answering peer(s)', '0 pending operations'),
      c('cluster.consensus-thread', 'pass', 'cluster', 'consensus thread working on 1 answering peer(s)', 'consensus thread working'),
      c('cluster.shards', 'skip', 'cluster', 'collections were not observed on any peer', 'every shard replica Active'),
      c('cluster.membership', 'pass', 'cluster', `1 peer(s) for 1 replica(s): ${ID0} (qdrant-0)`, '1 peer(s) in the consensus, one per replica, each with its own URI'),
    ],
  },
  {
    name: 'judges a single node with cluster mode disabled on version only; identity and metadata are skipped with reasons',
    input: {
      observations: edit(healthyCluster({ n: 1, version: '1.13.5' }), 0, (o) => {
        o.cluster = { status: 'disabled' };
        delete o.collections;
      }),
      expectedReplicas: 1,
      record: { '0': RECORD['0']! },
    },
    expected: [
      c('cluster.reachable', 'pass', 'cluster', '1 of 1 peers answer', 'all 1 peers answer GET / and GET /cluster'),
      verPass(0, '1.13.5'),
      c('peer.identity', 'skip', 'qdrant-0', 'cluster mode disabled: GET /cluster reports no peer id', `peer ${ID0} (recorded before the upgrade)`),
      c('peer.metadata', 'skip', 'qdrant-0', 'cluster mode disabled: no peer metadata', META('1.13.5')),
      c('cluster.mode', 'pass', 'cluster', 'cluster mode disabled (single node): health is version and readiness only', 'the same cluster mode on every peer'),
    ],
  },
];

describe('policy/convergence: post-upgrade convergence (docs/how-it-works.md#the-timeline-of-one-helm-upgrade, post-upgrade and helm test)', () => {
  for (const row of rows) {
    it(row.name, () => {
      const input: ConvergenceInput = {
        targetVersion: '1.13.5',
        record: RECORD,
        expectedReplicas: 3,
        ...row.input,
      };
      expect(assessConvergence(input)).to.deep.equal(row.expected);
    });
  }

  it('with the release known (the record names it), a new peer id is restored in the cluster: restore-volume with the values filled in', () => {
    const observations = [0, 1, 2].reduce(
      (obs, i) => editCluster(obs, i, (x) => (x.peers['123'] = { uri: uri(1) })),
      editCluster(UP, 1, (x) => (x.peerId = '123')),
    );
    const checks = assessConvergence({ targetVersion: '1.13.5', record: RECORD, expectedReplicas: 3, observations, release: 'vectors' });
    const identity = checks.find((x) => x.id === 'peer.identity' && x.status === 'fail')!;
    expect(identity.remedy).to.equal(
      `Scale the StatefulSet to 0 (kubectl scale statefulset qdrant --replicas=0), restore ${archive(1)} on pvc/qdrant-storage-qdrant-1 with ` +
        `\`qdrant-upgrade-guard restore-volume --release vectors --statefulset qdrant --ordinal 1 --archive ${archive(1)} --allow-peer-change\`, ` +
        'then scale back (docs/runbooks.md#restore-an-archive). Afterwards remove the id it minted from the consensus on the leader (DELETE /cluster/peer/123).',
    );
  });

  it('refuses a target that is not a version as a usage error (exit 2), before judging anything', () => {
    let err: unknown;
    try {
      assessConvergence({ targetVersion: 'latest', record: undefined, observations: UP, expectedReplicas: 3 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(GuardError);
    expect((err as GuardError).kind).to.equal('usage');
  });
});

describe('policy/convergence: staleSelfMetadataIsExpected (single peer, 1.13.3 to 1.14.x, docs/qdrant-facts.md#single-peer-stale-metadata)', () => {
  const table: [string, number, boolean][] = [
    ['1.13.2', 1, false],
    ['1.13.3', 1, true],
    ['1.13.4', 1, true],
    ['v1.14.9', 1, true],
    ['1.14.1-dev', 1, true],
    ['1.15.0', 1, false],
    ['1.16.2', 1, false],
    ['1.14.0', 2, false],
    ['1.14.0', 0, false],
    ['not-a-version', 1, false],
  ];
  for (const [version, peers, expected] of table) {
    it(`${version} with ${peers} peer(s): ${expected ? 'stale self-metadata is expected' : 'stale metadata is a failure'}`, () => {
      expect(staleSelfMetadataIsExpected(version, peers)).to.equal(expected);
    });
  }
});
