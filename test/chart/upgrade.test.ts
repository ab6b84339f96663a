// Upgrade-mode rendering (`helm template --is-upgrade`) and the staged rollout: on upgrade the
// StatefulSet gets partition = replicaCount and the post-upgrade Job walks it down with a deadline that grows with
// the number of peers; the user's own partition, OnDelete, or a disabled post-upgrade step turn staging off.
import { expect } from 'chai';
import { find, HELMS, K8sObject, renderOk } from './support/helm.js';

function sts(docs: K8sObject[]): K8sObject {
  return find(docs, 'StatefulSet', 'rel-qdrant');
}
function postJob(docs: K8sObject[]): K8sObject {
  return find(docs, 'Job', 'rel-qdrant-guard-post-upgrade');
}
function args(docs: K8sObject[]): string[] {
  return postJob(docs).spec.template.spec.containers[0].args;
}

describe('chart: upgrade mode and staged rollout', () => {
  for (const helm of HELMS) {
    // max(postUpgrade.timeoutSeconds, replicas x perPeerSeconds + 60) + 30
    const table = [
      { replicaCount: 1, partition: 1, deadline: 630 },
      { replicaCount: 3, partition: 3, deadline: 630 },
      { replicaCount: 5, partition: 5, deadline: 990 },
      { replicaCount: 7, partition: 7, deadline: 1350 },
    ];
    for (const row of table) {
      it(`${row.replicaCount} peer(s): upgrade renders partition ${row.partition}, --staged, deadline ${row.deadline} s (${helm})`, () => {
        const docs = renderOk(helm, { upgrade: true, values: { replicaCount: row.replicaCount } });
        expect(sts(docs).spec.updateStrategy).to.deep.equal({ type: 'RollingUpdate', rollingUpdate: { partition: row.partition } });
        const a = args(docs);
        expect(a.slice(a.indexOf('--staged'), a.indexOf('--staged') + 3)).to.deep.equal(['--staged', '--per-peer-seconds', '180']);
        expect(postJob(docs).spec.activeDeadlineSeconds).to.equal(row.deadline);
      });
    }

    it(`install renders partition 0 and no staging (${helm})`, () => {
      const docs = renderOk(helm, { values: { replicaCount: 3 } });
      expect(sts(docs).spec.updateStrategy.rollingUpdate).to.deep.equal({ partition: 0 });
      expect(args(docs)).to.not.include('--staged');
    });

    it(`perPeerSeconds scales the budget (${helm})`, () => {
      const docs = renderOk(helm, {
        upgrade: true,
        values: { replicaCount: 3, upgradeGuard: { stagedRollout: { perPeerSeconds: 400 } } },
      });
      expect(postJob(docs).spec.activeDeadlineSeconds).to.equal(3 * 400 + 60 + 30);
      const a = args(docs);
      expect(a[a.indexOf('--per-peer-seconds') + 1]).to.equal('400');
    });

    const off = [
      { why: 'the user set the partition', values: { updateStrategy: { rollingUpdate: { partition: 2 } } }, partition: 2 },
      { why: 'stagedRollout is off', values: { upgradeGuard: { stagedRollout: { enabled: false } } }, partition: 0 },
      { why: 'post-upgrade is off (nothing would lower the partition)', values: { upgradeGuard: { postUpgrade: { enabled: false } } }, partition: 0 },
    ];
    for (const o of off) {
      it(`does not stage when ${o.why} (${helm})`, () => {
        const docs = renderOk(helm, { upgrade: true, values: { replicaCount: 5, ...o.values } });
        expect(sts(docs).spec.updateStrategy.rollingUpdate.partition).to.equal(o.partition);
        const job = docs.find((d) => d.kind === 'Job' && d.metadata.name === 'rel-qdrant-guard-post-upgrade');
        if (job) {
          expect(job.spec.template.spec.containers[0].args).to.not.include('--staged');
          expect(job.spec.activeDeadlineSeconds).to.equal(630);
        }
      });
    }

    it(`does not stage with the OnDelete strategy (${helm})`, () => {
      const docs = renderOk(helm, { upgrade: true, values: { replicaCount: 3, updateStrategy: { type: 'OnDelete' } } });
      expect(sts(docs).spec.updateStrategy).to.deep.equal({ type: 'OnDelete' });
      expect(args(docs)).to.not.include('--staged');
    });

    it(`passes the upgrade's target version and revision to both hooks (${helm})`, () => {
      const docs = renderOk(helm, { upgrade: true, values: { image: { tag: 'v1.14.1' } } });
      for (const name of ['rel-qdrant-guard-pre-upgrade', 'rel-qdrant-guard-post-upgrade']) {
        const a: string[] = find(docs, 'Job', name).spec.template.spec.containers[0].args;
        expect(a[a.indexOf('--target-version') + 1], name).to.equal('1.14.1');
        expect(a[a.indexOf('--revision') + 1], name).to.equal('1');
      }
      expect(sts(docs).spec.template.spec.containers[0].image).to.equal('qdrant/qdrant:v1.14.1');
    });
  }
});
