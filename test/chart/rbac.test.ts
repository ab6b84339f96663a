// RBAC of the hooks: namespaced, exactly what each command calls (hook/kube/permissions.ts), no exec, no Secrets,
// no wildcards. The Roles are rendered by the real Helm binaries and compared with the code's declarations in both
// directions: a grant the code does not use fails, and so does a call the Role does not grant.
import { expect } from 'chai';
import { ciValuesFiles, find, HELMS, renderOk, type HelmName, type RenderOptions } from './support/helm.js';
import { grants, rulesOf, type GuardCommand, type Rule } from '../../hook/kube/permissions.js';

const ROLE_OF: Record<GuardCommand, string> = {
  'pre-upgrade': 'rel-qdrant-guard-pre-upgrade',
  'post-upgrade': 'rel-qdrant-guard-post-upgrade',
  verify: 'rel-qdrant-guard-test',
  'restore-volume': 'rel-qdrant-guard-restore-volume',
};

interface Case {
  name: string;
  render: RenderOptions;
  replicas: number;
  staged: boolean;
  volumeSnapshots: boolean;
}

const CASES: Case[] = [
  { name: 'install', render: {}, replicas: 1, staged: false, volumeSnapshots: false },
  { name: 'staged upgrade, 3 replicas', render: { upgrade: true, values: { replicaCount: 3 } }, replicas: 3, staged: true, volumeSnapshots: false },
  { name: 'upgrade with a user partition (not staged)', render: { upgrade: true, values: { updateStrategy: { rollingUpdate: { partition: 0 } } } }, replicas: 1, staged: false, volumeSnapshots: false },
  { name: 'upgrade taking VolumeSnapshots', render: { upgrade: true, files: ['chart/ci/volume-snapshots-values.yaml'] }, replicas: 3, staged: true, volumeSnapshots: true },
];

/** Rendered grants vs declared grants, as `missing` (declared, not granted) and `unused` (granted, not declared). */
function compare(helm: HelmName, c: Case, command: GuardCommand): { missing: string[]; unused: string[] } {
  const docs = renderOk(helm, c.render);
  const rendered = grants(find(docs, 'Role', ROLE_OF[command]).rules as Rule[]);
  const replicas = Number(find(docs, 'StatefulSet', 'rel-qdrant').spec.replicas);
  const declared = grants(rulesOf(command, { statefulset: 'rel-qdrant', release: 'rel', replicas, staged: c.staged, volumeSnapshots: c.volumeSnapshots }));
  return { missing: declared.filter((g) => !rendered.includes(g)), unused: rendered.filter((g) => !declared.includes(g)) };
}

describe('chart: each Role grants exactly the calls its command declares (hook/kube/permissions.ts)', () => {
  for (const helm of HELMS) {
    for (const c of CASES) {
      for (const command of Object.keys(ROLE_OF) as GuardCommand[]) {
        it(`${command}, ${c.name}: nothing missing, nothing unused (${helm})`, () => {
          const { missing, unused } = compare(helm, c, command);
          expect(missing, 'calls the code makes that the Role does not grant').to.deep.equal([]);
          expect(unused, 'grants no code uses').to.deep.equal([]);
        });
      }
    }

    it(`the comparison fails on an unused grant and on a missing one (${helm})`, () => {
      const docs = renderOk(helm, { upgrade: true });
      const role = find(docs, 'Role', ROLE_OF['post-upgrade']);
      const declared = grants(rulesOf('post-upgrade', { statefulset: 'rel-qdrant', release: 'rel', replicas: 1, staged: false, volumeSnapshots: false }));
      const rendered = grants(role.rules as Rule[]);
      // Staged: the rendered Role grants patch on the StatefulSet, which an unstaged declaration does not have.
      expect(rendered.filter((g) => !declared.includes(g))).to.deep.equal(['apps/statefulsets patch rel-qdrant']);
      const withoutLogs = (role.rules as Rule[]).filter((r) => !r.resources.includes('pods/log'));
      expect(declared.filter((g) => !grants(withoutLogs).includes(g))).to.deep.equal(['core/pods/log get rel-qdrant-0']);
    });

    it(`reads by name are limited by resourceNames: the StatefulSet, the record, the pods' logs (${helm})`, () => {
      const docs = renderOk(helm, { upgrade: true, values: { replicaCount: 2 } });
      for (const role of docs.filter((d) => d.kind === 'Role')) {
        for (const rule of role.rules as Rule[]) {
          const where = `${role.metadata.name}: ${JSON.stringify(rule)}`;
          if (rule.resources.includes('statefulsets')) expect(rule.resourceNames, where).to.deep.equal(['rel-qdrant']);
          if (rule.resources.includes('configmaps') && !rule.verbs.includes('create')) expect(rule.resourceNames, where).to.deep.equal(['rel-upgrade-guard']);
          if (rule.resources.includes('pods/log')) expect(rule.resourceNames, where).to.deep.equal(['rel-qdrant-0', 'rel-qdrant-1']);
        }
      }
    });

    it(`the restore-volume Role stays with the release (not a hook) and is bound only to the subjects given (${helm})`, () => {
      const plain = renderOk(helm);
      expect(find(plain, 'Role', ROLE_OF['restore-volume']).metadata.annotations?.['helm.sh/hook']).to.equal(undefined);
      expect(plain.filter((d) => d.kind === 'RoleBinding' && d.metadata.name === ROLE_OF['restore-volume'])).to.have.length(0);
      const subjects = [{ kind: 'Group', name: 'sre', apiGroup: 'rbac.authorization.k8s.io' }];
      const bound = find(renderOk(helm, { values: { upgradeGuard: { restoreVolume: { subjects } } } }), 'RoleBinding', ROLE_OF['restore-volume']);
      expect(bound.subjects).to.deep.equal(subjects);
      expect(bound.roleRef).to.deep.equal({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: ROLE_OF['restore-volume'] });
      const off = renderOk(helm, { values: { upgradeGuard: { restoreVolume: { role: { create: false }, subjects } } } });
      expect(off.filter((d) => d.metadata.name === ROLE_OF['restore-volume'])).to.have.length(0);
    });
  }
});

describe('chart: hook RBAC', () => {
  for (const helm of HELMS) {
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
