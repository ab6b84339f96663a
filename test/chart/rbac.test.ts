// RBAC of the hooks: namespaced, exactly what each command needs, no exec, no Secrets, no wildcards.
import { expect } from 'chai';
import { ciValuesFiles, find, HELMS, renderOk } from './support/helm.js';

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

const READ_STS = { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get', 'list', 'watch'] };
const RECORD = [
  { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
  { apiGroups: [''], resources: ['configmaps'], resourceNames: ['rel-upgrade-guard'], verbs: ['get', 'update', 'patch'] },
];
const EVENTS = { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] };

const PRE_UPGRADE: Rule[] = [
  READ_STS,
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list'] },
  ...RECORD,
  EVENTS,
];
const SNAPSHOTS = { apiGroups: ['snapshot.storage.k8s.io'], resources: ['volumesnapshots'], verbs: ['get', 'list', 'create'] };
const STS_PATCH = { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: ['rel-qdrant'], verbs: ['patch'] };
const postUpgrade = (staged: boolean): Rule[] => [
  READ_STS,
  ...(staged ? [STS_PATCH] : []),
  { apiGroups: ['apps'], resources: ['controllerrevisions'], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list'] },
  ...RECORD,
  EVENTS,
];
const TEST: Rule[] = [
  { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['pods', 'configmaps'], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
];

describe('chart: hook RBAC', () => {
  for (const helm of HELMS) {
    it(`pre-upgrade Role grants exactly the worker-pod, PVC, record and event rights (${helm})`, () => {
      const role = find(renderOk(helm, { upgrade: true }), 'Role', 'rel-qdrant-guard-pre-upgrade');
      expect(role.rules).to.deep.equal(PRE_UPGRADE);
    });

    it(`pre-upgrade Role may create VolumeSnapshots only when a VolumeSnapshotClass is set (${helm})`, () => {
      const docs = renderOk(helm, { files: ['chart/ci/volume-snapshots-values.yaml'], upgrade: true });
      expect(find(docs, 'Role', 'rel-qdrant-guard-pre-upgrade').rules).to.deep.equal([...PRE_UPGRADE, SNAPSHOTS]);
    });

    it(`post-upgrade Role may patch the one StatefulSet only when the rollout is staged (${helm})`, () => {
      const staged = find(renderOk(helm, { upgrade: true }), 'Role', 'rel-qdrant-guard-post-upgrade');
      expect(staged.rules).to.deep.equal(postUpgrade(true));
      const install = find(renderOk(helm), 'Role', 'rel-qdrant-guard-post-upgrade');
      expect(install.rules).to.deep.equal(postUpgrade(false));
      const userPartition = renderOk(helm, { upgrade: true, values: { updateStrategy: { rollingUpdate: { partition: 0 } } } });
      expect(find(userPartition, 'Role', 'rel-qdrant-guard-post-upgrade').rules).to.deep.equal(postUpgrade(false));
    });

    it(`test Role only reads (${helm})`, () => {
      expect(find(renderOk(helm), 'Role', 'rel-qdrant-guard-test').rules).to.deep.equal(TEST);
    });

    for (const file of ciValuesFiles()) {
      it(`${file}: no cluster-wide RBAC, no exec, no Secrets, no wildcards, writes limited by name (${helm})`, () => {
        for (const upgrade of [false, true]) {
          const docs = renderOk(helm, { files: [file], upgrade });
          expect(docs.filter((d) => d.kind.startsWith('Cluster'))).to.have.length(0);
          for (const role of docs.filter((d) => d.kind === 'Role')) {
            for (const rule of role.rules as Rule[]) {
              const where = `${role.metadata.name}: ${JSON.stringify(rule)}`;
              expect(rule.resources, where).to.not.include.members(['pods/exec', 'pods/attach', 'secrets']);
              expect([...rule.apiGroups, ...rule.resources, ...rule.verbs], where).to.not.include('*');
              expect(rule.verbs, where).to.not.include.members(['escalate', 'bind', 'impersonate', 'deletecollection']);
              if (rule.resources.includes('statefulsets') && rule.verbs.some((v) => ['patch', 'update'].includes(v))) {
                expect(rule.resourceNames, where).to.deep.equal(['rel-qdrant']);
              }
              if (rule.resources.includes('configmaps') && rule.verbs.some((v) => ['update', 'patch', 'delete'].includes(v))) {
                expect(rule.resourceNames, where).to.deep.equal(['rel-upgrade-guard']);
              }
            }
          }
        }
      });
    }
  }
});

describe('chart: hook RBAC covers what hook/kube calls', () => {
  for (const helm of HELMS) {
    it(`every permission hook/kube/permissions.ts declares is granted by the pre- or post-upgrade Role (${helm})`, async () => {
      // Imported lazily: a broken hook module should fail this test only, not the whole chart tier.
      const { REQUIRED_PERMISSIONS } = await import('../../hook/kube/permissions.js');
      const docs = renderOk(helm, { files: ['chart/ci/volume-snapshots-values.yaml'], upgrade: true });
      const rules = ['rel-qdrant-guard-pre-upgrade', 'rel-qdrant-guard-post-upgrade'].flatMap(
        (name) => find(docs, 'Role', name).rules as Rule[],
      );
      const missing = REQUIRED_PERMISSIONS.flatMap((p) =>
        p.verbs
          .filter((verb) => !rules.some((r) => r.apiGroups.includes(p.group) && r.resources.includes(p.resource) && r.verbs.includes(verb)))
          .map((verb) => `${p.group || 'core'}/${p.resource} ${verb} (${p.why})`),
      );
      expect(missing).to.deep.equal([]);
    });
  }
});
