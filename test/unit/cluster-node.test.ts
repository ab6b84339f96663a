// The real e2e node's build pins and its volume provisioner's PersistentVolumes (test/cluster/node).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { localVolume } from '../../test/cluster/node/provisioner.js';

const repo = path.resolve(import.meta.dirname, '../..');

function goMod(rel: string): { kubernetes?: string; replaces: string[] } {
  const text = fs.readFileSync(path.join(repo, rel), 'utf8');
  const kubernetes = /^(?:require\s+|\s+)k8s\.io\/kubernetes (v\S+)/m.exec(text)?.[1];
  const block = /^replace \(\n([\s\S]*?)\n\)/m.exec(text)?.[1] ?? '';
  const replaces = block.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('//'));
  return { kubernetes, replaces };
}

describe('real node: build pins', () => {
  it('builds the kubelet and kube-proxy from the control plane release, with the same replaces', () => {
    const cp = goMod('test/cluster/build/go.mod');
    const node = goMod('test/cluster/node/kube/go.mod');
    expect(cp.kubernetes).to.match(/^v1\.\d+\.\d+$/);
    expect(node.kubernetes).to.equal(cp.kubernetes);
    expect(node.replaces.length).to.be.greaterThan(10);
    expect(node.replaces).to.deep.equal(cp.replaces);
  });
});

describe('real node: local volume provisioner', () => {
  const pvc = {
    metadata: { name: 'qdrant-storage-x-0', namespace: 'ns1', uid: 'u-1' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } }, storageClassName: 'standard' },
  };
  const sc = { metadata: { name: 'standard' }, reclaimPolicy: 'Delete' };

  it('makes a local PV pinned to the node and pre-bound to the claim', () => {
    const pv = localVolume(pvc, sc, 'node-a', '/v/pvc-u-1');
    expect(pv.metadata.name).to.equal('pvc-u-1');
    expect(pv.spec.local).to.deep.equal({ path: '/v/pvc-u-1' });
    expect(pv.spec.hostPath).to.equal(undefined);
    expect(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0]).to.deep.equal({
      key: 'kubernetes.io/hostname',
      operator: 'In',
      values: ['node-a'],
    });
    expect(pv.spec.claimRef).to.include({ namespace: 'ns1', name: 'qdrant-storage-x-0', uid: 'u-1' });
    expect(pv.spec.capacity.storage).to.equal('2Gi');
    expect(pv.spec.persistentVolumeReclaimPolicy).to.equal('Delete');
    expect(pv.spec.storageClassName).to.equal('standard');
  });

  it("keeps the class's reclaim policy and defaults the access mode", () => {
    const pv = localVolume({ ...pvc, spec: { ...pvc.spec, accessModes: [] } }, { ...sc, reclaimPolicy: 'Retain' }, 'n', '/f');
    expect(pv.spec.persistentVolumeReclaimPolicy).to.equal('Retain');
    expect(pv.spec.accessModes).to.deep.equal(['ReadWriteOnce']);
  });
});
