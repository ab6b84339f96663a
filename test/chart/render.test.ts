// The chart renders with both Helm majors for every ci values file, install and upgrade, to the same objects,
// every one of them labelled and namespaced.
import { expect } from 'chai';
import { ciValuesFiles, HELMS, K8sObject, NAMESPACE, renderOk } from './support/helm.js';

const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace', 'PersistentVolume', 'StorageClass']);

// A generated API key is random per render: the only legitimate difference between two renders.
function comparable(doc: K8sObject): K8sObject {
  const copy = structuredClone(doc);
  if (copy.kind === 'Secret') copy.data = Object.fromEntries(Object.keys(copy.data ?? {}).map((k) => [k, '<data>']));
  return copy;
}

function byKindAndName(docs: K8sObject[]): Map<string, K8sObject> {
  return new Map(docs.map((d) => [`${d.kind}/${d.metadata.name}`, comparable(d)]));
}

describe('chart: renders with Helm 3 and Helm 4', () => {
  for (const file of ciValuesFiles()) {
    for (const upgrade of [false, true]) {
      const mode = upgrade ? 'upgrade' : 'install';
      it(`${file} (${mode}): Helm 3 and Helm 4 render the same objects`, () => {
        const [h3, h4] = HELMS.map((h) => byKindAndName(renderOk(h, { files: [file], upgrade })));
        expect([...h4.keys()].sort()).to.deep.equal([...h3.keys()].sort());
        for (const [key, doc] of h3) expect(h4.get(key), key).to.deep.equal(doc);
      });

      for (const helm of HELMS) {
        it(`${file} (${mode}, ${helm}): every object carries the chart labels and the release namespace`, () => {
          const docs = renderOk(helm, { files: [file], upgrade });
          expect(docs.length).to.be.greaterThan(4);
          for (const doc of docs) {
            const where = `${doc.kind}/${doc.metadata.name}`;
            const labels = doc.metadata.labels ?? {};
            expect(labels['helm.sh/chart'], where).to.equal('qdrant-0.1.0');
            expect(labels['app.kubernetes.io/managed-by'], where).to.equal('Helm');
            expect(labels['app.kubernetes.io/instance'], where).to.equal('rel');
            expect(labels['app.kubernetes.io/version'], where).to.equal('v1.19.0');
            expect(labels['app.kubernetes.io/name'], where).to.be.oneOf(['qdrant', 'qdrant-upgrade-guard']);
            expect(CLUSTER_SCOPED.has(doc.kind), `${where} is cluster-scoped`).to.equal(false);
            expect(doc.metadata.namespace, where).to.equal(NAMESPACE);
          }
        });
      }
    }
  }

  for (const helm of HELMS) {
    it(`renders Qdrant, its hooks and its test pod by default (${helm})`, () => {
      const kinds = renderOk(helm, { upgrade: true }).map((d) => `${d.kind}/${d.metadata.name}`).sort();
      expect(kinds).to.deep.equal(
        [
          'ConfigMap/rel-qdrant',
          'Job/rel-qdrant-guard-post-upgrade',
          'Job/rel-qdrant-guard-pre-upgrade',
          'Pod/rel-qdrant-guard-test',
          'Role/rel-qdrant-guard-post-upgrade',
          'Role/rel-qdrant-guard-pre-upgrade',
          'Role/rel-qdrant-guard-restore-volume',
          'Role/rel-qdrant-guard-test',
          'RoleBinding/rel-qdrant-guard-post-upgrade',
          'RoleBinding/rel-qdrant-guard-pre-upgrade',
          'RoleBinding/rel-qdrant-guard-test',
          'Service/rel-qdrant',
          'Service/rel-qdrant-headless',
          'ServiceAccount/rel-qdrant',
          'ServiceAccount/rel-qdrant-guard-post-upgrade',
          'ServiceAccount/rel-qdrant-guard-pre-upgrade',
          'ServiceAccount/rel-qdrant-guard-test',
          'StatefulSet/rel-qdrant',
        ].sort(),
      );
    });

    it(`keeps hook pods out of Qdrant's Services and disruption budget (${helm})`, () => {
      const docs = renderOk(helm, { values: { podDisruptionBudget: { enabled: true } } });
      const selector = docs.find((d) => d.kind === 'Service')!.spec.selector as Record<string, string>;
      const hookPods = docs.filter((d) => d.kind === 'Job').map((d) => d.spec.template.metadata.labels);
      hookPods.push(docs.find((d) => d.kind === 'Pod')!.metadata.labels);
      for (const labels of hookPods) {
        const matches = Object.entries(selector).every(([k, v]) => labels[k] === v);
        expect(matches, JSON.stringify(labels)).to.equal(false);
      }
    });
  }
});
