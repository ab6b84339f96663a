// Drop-in parity with the official chart (qdrant/qdrant-helm 1.19.0, vendored under test/fixtures/official-chart):
// both charts render the same values files (the official values.yaml, the official chart's own test values, and a
// file setting its keys away from their defaults) with Helm 3 and Helm 4, and the Qdrant StatefulSet, both Services,
// the API-key Secret and the ConfigMap are compared field by field. Every difference must be one of
// INTENDED_DIFFERENCES (each listed in the README with its reason), and every entry there must still be needed.
import { expect } from 'chai';
import { HELMS, HelmName, K8sObject, render, RenderOptions } from './support/helm.js';
import { diffObjects } from './support/object-diff.js';
import { INTENDED_DIFFERENCES } from './support/official-differences.js';
import { OFFICIAL, PARITY_CASES as CASES } from './support/official-chart.js';

// The Qdrant objects, by kind and name suffix (fullnameOverride changes the prefix). Beyond the StatefulSet, Services,
// Secret and ConfigMap, the Ingress, PodDisruptionBudget, ServiceMonitor and ServiceAccount are compared too.
const COMPARED: [string, string][] = [
  ['StatefulSet', ''],
  ['Service', ''],
  ['Service', '-headless'],
  ['Secret', '-apikey'],
  ['ConfigMap', ''],
  ['Ingress', ''],
  ['PodDisruptionBudget', ''],
  ['ServiceMonitor', ''],
  ['ServiceAccount', ''],
];

type Found = { object: string; path: string; ours: unknown; official: unknown };

function get(docs: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return docs.find((d) => d.kind === kind && d.metadata.name === name);
}

/** Every difference of the compared objects, plus the order of the pod's containers (which keying hides). */
function differences(helm: HelmName, options: RenderOptions): Found[] {
  const ours = render(helm, options);
  const official = render(helm, { ...options, chart: OFFICIAL });
  expect(ours.status, `${helm} renders this chart:\n${ours.stderr}`).to.equal(0);
  expect(official.status, `${helm} renders the official chart:\n${official.stderr}`).to.equal(0);
  const found: Found[] = [];
  const fullname = ours.docs.find((d) => d.kind === 'StatefulSet')!.metadata.name;
  for (const [kind, suffix] of COMPARED) {
    const name = `${fullname}${suffix}`;
    const a = get(ours.docs, kind, name);
    const b = get(official.docs, kind, name);
    expect(!!a, `${kind}/${name} rendered by this chart as by the official one`).to.equal(!!b);
    for (const d of diffObjects(a, b)) found.push({ object: `${kind}/${name}`, ...d });
  }
  const order = (docs: K8sObject[]) => get(docs, 'StatefulSet', fullname)!.spec.template.spec.containers.map((c: { name: string }) => c.name);
  const [oursOrder, officialOrder] = [order(ours.docs), order(official.docs)];
  if (JSON.stringify(oursOrder) !== JSON.stringify(officialOrder)) {
    found.push({ object: `StatefulSet/${fullname}`, path: 'spec.template.spec.containers(order)', ours: oursOrder, official: officialOrder });
  }
  return found;
}

function explain(d: Found) {
  return INTENDED_DIFFERENCES.find((e) => e.match.test(`${d.object} ${d.path}`) && (!e.when || e.when(d.ours, d.official)));
}

describe('chart: parity with the official chart 1.19.0', () => {
  const used = new Set<string>();

  for (const c of CASES) {
    for (const helm of HELMS) {
      it(`${c.name}: every difference of the Qdrant objects is an intended one (${helm})`, () => {
        const unexplained = differences(helm, c.options).filter((d) => {
          const e = explain(d);
          if (e) used.add(e.what);
          return !e;
        });
        expect(
          unexplained.map((d) => `${d.object} ${d.path}: ours ${JSON.stringify(d.ours)}, official ${JSON.stringify(d.official)}`),
        ).to.deep.equal([]);
      });
    }
  }

  it('the bootstrap of every peer is the official chart\'s, byte for byte (initialize.sh)', () => {
    for (const helm of HELMS) {
      for (const options of [{ values: { replicaCount: 3 } }, { values: { replicaCount: 3, config: { cluster: { p2p: { enable_tls: true, port: 7000 } } }, service: { ports: [{ name: 'http', port: 6333, targetPort: 6333, checksEnabled: true }, { name: 'p2p', port: 7000, targetPort: 7000 }] } } }]) {
        const script = (chart?: string) => get(render(helm, { ...options, chart }).docs, 'ConfigMap', 'rel-qdrant')!.data['initialize.sh'];
        expect(script(), helm).to.equal(script(OFFICIAL));
        expect(script(), helm).to.include("--bootstrap '");
      }
    }
  });

  // Runs after the comparisons above (mocha keeps declaration order), which fill `used`.
  it('needs every intended difference it lists (none is stale)', () => {
    expect(INTENDED_DIFFERENCES.map((e) => e.what).filter((w) => !used.has(w))).to.deep.equal([]);
  });
});
