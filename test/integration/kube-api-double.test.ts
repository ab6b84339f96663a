/**
 * The Kubernetes API double on the points test/e2e/kube-double-contract.test.ts holds it to the real apiserver:
 * server-side apply of the rollout partition with per-manager ownership, 409 without force and force taking the
 * field over; observedGeneration catching up only after the PATCH answered; sinceTime in whole seconds.
 */
import { expect } from 'chai';
import { createKubeApi } from '../../hook/kube/client.js';
import { systemClock } from '../../hook/runtime/clock.js';
import { doubleTarget, ownershipSteps, PARTITION_FIELD, sinceTimeSteps } from '../support/kube-api-double/contract-steps.js';

describe('Kubernetes API double: apply, controller lag and sinceTime as the apiserver does them', function () {
  this.timeout(30_000);

  it('tracks who owns the partition, refuses a conflicting apply without force, and lets force take it over', async () => {
    const t = doubleTarget();
    await t.start();
    try {
      const r = await ownershipSteps(t);
      expect(r.outcomes).to.deep.equal([
        {
          step: 'helm applies partition 2 without force',
          code: 409,
          message: `Apply failed with 1 conflict: conflict with "kubectl-create" using apps/v1: ${PARTITION_FIELD}`,
        },
        { step: 'helm applies partition 2 with force', code: 200, partition: 2 },
        {
          step: 'the guard applies 1 without force',
          code: 409,
          message: `Apply failed with 1 conflict: conflict with "helm": ${PARTITION_FIELD}`,
        },
        { step: 'the guard applies 1 with force', code: 200, partition: 1 },
        { step: 'helm applies 1, the value it finds', code: 200, partition: 1 },
        { step: 'the guard applies without the field', code: 200, partition: 1 },
        { step: 'helm applies without the field', code: 200, partition: 0 },
        { step: 'kubectl-patch merge-patches partition 3', code: 200, partition: 3 },
        {
          step: 'the guard applies 2 without force',
          code: 409,
          message: `Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: ${PARTITION_FIELD}`,
        },
        {
          step: 'a merge patch with force',
          code: 422,
          message: 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
        },
      ]);
      expect(r.lagged, 'observedGeneration behind in the PATCH response').to.equal(true);
      expect(r.observed).to.equal(true);
    } finally {
      await t.close();
    }
  });

  it('holds observedGeneration back for controllerLagMs', async () => {
    const t = doubleTarget();
    await t.start();
    try {
      t.double!.seedQdrantStatefulSet({ name: 'lag', replicas: 1 });
      t.double!.controllerLagMs = 300;
      const api = createKubeApi({ kubeconfig: t.kubeconfig, namespace: t.namespace, clock: systemClock, progress: { say: () => undefined } });
      const after = await api.patchStatefulSetPartition('lag', 1);
      expect([after.generation, after.observedGeneration]).to.deep.equal([2, 1]);
      expect(t.double!.get('statefulsets', 'lag')!['status'].observedGeneration).to.equal(1);
      // Set after the double's 300 ms timer, so it fires after it however loaded the machine is.
      await new Promise((r) => setTimeout(r, 400));
      expect(t.double!.get('statefulsets', 'lag')!['status'].observedGeneration).to.equal(2);
    } finally {
      await t.close();
    }
  });

  it('filters pod logs by sinceTime in whole seconds', async () => {
    const t = doubleTarget();
    await t.start();
    try {
      t.double!.seedQdrantStatefulSet({ name: 'contract', replicas: 1 });
      const r = await sinceTimeSteps(t);
      expect(r.sameSecond).to.equal('one line\n');
      expect(r.nextSecond).to.equal('');
    } finally {
      await t.close();
    }
  });
});
