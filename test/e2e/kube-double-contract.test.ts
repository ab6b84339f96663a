// The Kubernetes API double (test/support/kube-api-double) held to the real kube-apiserver of the e2e platform on
// the points where the hooks depend on the API's behaviour: server-side apply of a StatefulSet's rollout partition
// (field ownership per manager, 409 without force, force taking the field over, giving it up), the StatefulSet
// controller observing a new generation only after the PATCH answered, and sinceTime on pod logs counted in whole
// seconds. The same steps (test/support/kube-api-double/contract-steps.ts) run against both; the outcomes must agree.
import { expect } from 'chai';
import {
  doubleTarget,
  ownershipSteps,
  PARTITION_FIELD,
  sinceTimeSteps,
  type Target,
} from '../support/kube-api-double/contract-steps.js';
import { ensureCluster, releaseCluster, testNamespace, waitForPodDone, type Cluster } from './support/cluster.js';

function realTarget(cluster: Cluster, namespace: string): Target {
  return {
    name: 'kube-apiserver',
    kubeconfig: cluster.kubeconfig,
    namespace,
    async createStatefulSet(name) {
      // Created without a partition by kubectl: the apiserver defaults it to 0 and records kubectl-create as its owner.
      await cluster.kubectlOk(['create', '-n', namespace, '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          metadata: { name },
          spec: {
            serviceName: name,
            replicas: 0,
            selector: { matchLabels: { app: name } },
            template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'local/sleeper:1' }] } },
          },
        }),
      });
    },
    async podWithOneLine(name) {
      await cluster.kubectlOk(['create', '-n', namespace, '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name },
          spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'local/sleeper:1', args: ['--no-server', '--print', 'one line'] }] },
        }),
      });
      await waitForPodDone(cluster, namespace, name, 60_000);
      const stamped = (await cluster.kubectlOk(['logs', '-n', namespace, name, '--timestamps'])).trim().split('\n');
      const line = stamped.find((l) => l.endsWith(' one line'));
      if (!line) throw new Error(`pod ${name} did not log "one line": ${stamped.join(' | ')}`);
      return { pod: name, container: 'main', time: Date.parse(line.split(' ')[0]!) };
    },
    async close() {
      await cluster.kubectl(['delete', 'namespace', namespace, '--wait=false']);
    },
  };
}

describe('the Kubernetes API double agrees with the real kube-apiserver', function () {
  this.timeout(180_000);
  let cluster: Cluster | undefined;
  const targets: Target[] = [];
  const results = new Map<string, { ownership: Awaited<ReturnType<typeof ownershipSteps>>; since: Awaited<ReturnType<typeof sinceTimeSteps>> }>();

  before(async function () {
    this.timeout(300_000);
    const d = doubleTarget();
    await d.start();
    targets.push(d);
    cluster = await ensureCluster();
    const ns = testNamespace('kube-contract');
    await cluster.kubectlOk(['create', 'namespace', ns]);
    targets.push(realTarget(cluster, ns));
    for (const t of targets) results.set(t.name, { ownership: await ownershipSteps(t), since: await sinceTimeSteps(t) });
  });

  after(async function () {
    this.timeout(90_000);
    for (const t of targets) await t.close();
    await releaseCluster(cluster);
  });

  it('server-side apply of the partition: same codes, values and conflict messages, step by step', () => {
    const real = results.get('kube-apiserver')!.ownership.outcomes;
    const double = results.get('kube-api-double')!.ownership.outcomes;
    expect(double).to.deep.equal(real);
    // What the hooks rely on, stated plainly (so the comparison cannot pass on two identical mistakes).
    const byStep = Object.fromEntries(real.map((o) => [o.step, o]));
    expect(byStep['the guard applies 1 without force']).to.deep.equal({
      step: 'the guard applies 1 without force',
      code: 409,
      message: `Apply failed with 1 conflict: conflict with "helm": ${PARTITION_FIELD}`,
    });
    expect(byStep['the guard applies 1 with force']!.partition).to.equal(1);
    expect(byStep['helm applies without the field']!.partition).to.equal(0);
  });

  it('the StatefulSet controller observes a new generation after the PATCH answered, on both', () => {
    for (const name of ['kube-apiserver', 'kube-api-double']) {
      const r = results.get(name)!.ownership;
      expect(r.lagged, `${name}: observedGeneration behind generation in the PATCH response`).to.equal(true);
      expect(r.observed, name).to.equal(true);
    }
  });

  it('sinceTime counts whole seconds: a line from earlier in the same second is returned, not one from before the next', () => {
    for (const name of ['kube-apiserver', 'kube-api-double']) {
      const r = results.get(name)!.since;
      expect(r.sameSecond, `${name} with sinceTime ${r.sinceTimes[0]}`).to.equal('one line\n');
      expect(r.nextSecond, `${name} with sinceTime ${r.sinceTimes[1]}`).to.equal('');
    }
  });
});
