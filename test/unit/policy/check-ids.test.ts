import { expect } from 'chai';
import { ALL_CHECK_IDS, CHECK_IDS, CLUSTER_CHECK_IDS } from '../../../hook/policy/check-ids.js';
import { assessClusterHealth } from '../../../hook/policy/cluster-health.js';
import { assessConvergence } from '../../../hook/policy/convergence.js';
import { findingsToChecks, scanLogLines } from '../../../hook/policy/log-loop.js';
import { assessRollout } from '../../../hook/policy/rollout.js';
import { edit, healthyCluster, unreachable } from './observations.js';

describe('policy/check-ids: the fixed set CI and dashboards match on', () => {
  it('is unique, lower-case dotted, and lists the per-volume ids too', () => {
    expect(new Set(ALL_CHECK_IDS).size).to.equal(ALL_CHECK_IDS.length);
    for (const id of ALL_CHECK_IDS) expect(id).to.match(/^[a-z]+\.[a-z-]+$/);
    expect(ALL_CHECK_IDS).to.include.members(['version.policy', 'volume.state', 'cluster.membership', 'peer.identity', 'rollout.complete']);
  });

  it('covers every id the cluster checks emit', () => {
    const broken = edit(unreachable(healthyCluster({ version: '1.16.0', peerMetadata: true }), 2), 0, (o) => (o.ready = false));
    const emitted = [
      ...assessClusterHealth(broken, { expectedPeers: 3 }),
      ...assessConvergence({ targetVersion: '1.16.0', record: {}, observations: broken, expectedReplicas: 3 }),
      ...findingsToChecks(scanLogLines(['WARN x: Replaced address of peer 1 from a to b'], { pod: 'qdrant-0', recordedInitialized: true }), 'qdrant-0'),
      assessRollout(
        { statefulset: 'q', replicas: 1, generation: 1, observedGeneration: 1, updateRevision: 'b', currentRevision: 'a', updatedReplicas: 0, readyReplicas: 0, partition: 0, pods: [] },
        { deadlineReached: true },
      ).stuck!,
    ].map((c) => c.id);
    for (const id of new Set(emitted)) expect(CLUSTER_CHECK_IDS as readonly string[]).to.include(id);
    expect(emitted).to.include(CHECK_IDS.peerAddressChange);
  });
});
