// Hook wiring: events, weights and delete policies, RBAC before the Job that uses it, Jobs that refuse rather than
// retry and finish under Helm's timeout.
import { expect } from 'chai';
import { find, HELMS, hooks, K8sObject, podSpec, renderOk } from './support/helm.js';

const COMPONENTS = [
  { event: 'pre-upgrade', name: 'rel-qdrant-guard-pre-upgrade', runner: 'Job' },
  { event: 'post-upgrade', name: 'rel-qdrant-guard-post-upgrade', runner: 'Job' },
  { event: 'test', name: 'rel-qdrant-guard-test', runner: 'Pod' },
] as const;

const WEIGHTS: Record<string, string> = { ServiceAccount: '-10', Role: '-9', RoleBinding: '-8', Job: '0', Pod: '0' };

function annotations(doc: K8sObject): Record<string, string> {
  return doc.metadata.annotations ?? {};
}

describe('chart: hooks', () => {
  for (const helm of HELMS) {
    for (const { event, name, runner } of COMPONENTS) {
      it(`${event}: ServiceAccount, Role, RoleBinding at -10/-9/-8 and the ${runner} at 0, all ${event} hooks (${helm})`, () => {
        const docs = renderOk(helm, { upgrade: true });
        for (const kind of ['ServiceAccount', 'Role', 'RoleBinding', runner]) {
          const doc = find(docs, kind, name);
          expect(annotations(doc)['helm.sh/hook'], `${kind}/${name}`).to.equal(event);
          expect(annotations(doc)['helm.sh/hook-weight'], `${kind}/${name}`).to.equal(WEIGHTS[kind]);
          expect(annotations(doc)['helm.sh/hook-delete-policy'], `${kind}/${name}`).to.equal('before-hook-creation');
        }
      });

      it(`${event}: the ${runner} runs as its own ServiceAccount, bound to its own Role (${helm})`, () => {
        const docs = renderOk(helm, { upgrade: true });
        expect(podSpec(find(docs, runner, name)).serviceAccountName).to.equal(name);
        const binding = find(docs, 'RoleBinding', name);
        expect(binding.roleRef).to.deep.equal({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name });
        expect(binding.subjects).to.deep.equal([{ kind: 'ServiceAccount', name, namespace: 'qdrant' }]);
      });
    }

    it(`only the guard's objects are hooks, and they stream their logs to the client (${helm})`, () => {
      const docs = renderOk(helm, { upgrade: true });
      for (const doc of hooks(docs)) {
        expect(doc.metadata.name).to.match(/^rel-qdrant-guard-/);
        if (doc.kind === 'Job' || doc.kind === 'Pod') {
          expect(annotations(doc)['helm.sh/hook-output-log-policy']).to.equal('hook-failed,hook-succeeded');
        }
      }
      // The restore-volume Role stays with the release: an operator binds to it between upgrades.
      const guardObjects = docs.filter((d) => d.metadata.name.startsWith('rel-qdrant-guard-') && d.metadata.name !== 'rel-qdrant-guard-restore-volume');
      expect(guardObjects).to.have.length(12);
      expect(guardObjects.filter((d) => !annotations(d)['helm.sh/hook'])).to.deep.equal([]);
    });

    it(`hook Jobs never retry and the pre-upgrade Job ends before Helm's default 5m timeout (${helm})`, () => {
      const docs = renderOk(helm, { upgrade: true });
      for (const { name, runner } of COMPONENTS) {
        if (runner !== 'Job') continue;
        const job = find(docs, 'Job', name);
        expect(job.spec.backoffLimit, name).to.equal(0);
        expect(job.spec.template.spec.restartPolicy, name).to.equal('Never');
      }
      expect(find(docs, 'Job', 'rel-qdrant-guard-pre-upgrade').spec.activeDeadlineSeconds).to.be.below(300);
    });

    it(`renders no hook at all when the guard is off (${helm})`, () => {
      const docs = renderOk(helm, { files: ['chart/ci/guard-off-values.yaml'], upgrade: true });
      expect(hooks(docs)).to.have.length(0);
      expect(podSpec(find(docs, 'StatefulSet', 'rel-qdrant')).initContainers).to.equal(undefined);
    });

    it(`renders each hook set only when its step is on (${helm})`, () => {
      const docs = renderOk(helm, {
        upgrade: true,
        values: { upgradeGuard: { preUpgrade: { enabled: false }, test: { enabled: false } } },
      });
      const events = new Set(hooks(docs).map((d) => annotations(d)['helm.sh/hook']));
      expect([...events]).to.deep.equal(['post-upgrade']);
    });
  }
});
