/** StatefulSets: read one, and write or give back its rollout partition by server-side apply. */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { stsNotFound, type KubeContext } from '../context.js';
import { toStatefulSetSnapshot } from '../snapshots.js';
import type { KubeApi, StatefulSetSnapshot } from '../types.js';

/** Field manager of every server-side apply the hooks make. */
export const FIELD_MANAGER = 'qdrant-upgrade-guard';

export function statefulSetOps(ctx: KubeContext): Pick<KubeApi, 'getStatefulSet' | 'patchStatefulSetPartition' | 'releaseStatefulSetPartition'> {
  const { call, apps, namespace } = ctx;

  /**
   * The partition is written with server-side apply under our own field manager, forced: Helm 4 applies the
   * chart's partition server-side too, and a merge patch would leave the field owned by an Update manager that
   * Helm's next apply conflicts with ("conflict with node-fetch ... rollingUpdate.partition"). Applying an
   * intent without the field (partition undefined) gives it up again: the API defaults it to 0, which restarts
   * nothing once every pod runs the update revision, and the next `helm upgrade` owns it alone.
   */
  async function applyPartition(name: string, partition: number | undefined, what: string): Promise<StatefulSetSnapshot> {
    const body = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace },
      ...(partition === undefined ? {} : { spec: { updateStrategy: { rollingUpdate: { partition } } } }),
    };
    const sts = await call(
      { verb: 'patch', resource: 'statefulsets', group: 'apps', what },
      () =>
        apps.patchNamespacedStatefulSet(
          { name, namespace, body, fieldManager: FIELD_MANAGER, force: true },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
        ),
      { 404: stsNotFound(ctx, name) },
    );
    return toStatefulSetSnapshot(sts);
  }

  return {
    async getStatefulSet(name) {
      const sts = await call(
        { verb: 'get', resource: 'statefulsets', group: 'apps', what: `get StatefulSet ${name}` },
        () => apps.readNamespacedStatefulSet({ name, namespace }),
        { 404: stsNotFound(ctx, name) },
      );
      return toStatefulSetSnapshot(sts);
    },

    async patchStatefulSetPartition(name, partition) {
      return applyPartition(name, partition, `set the rollout partition of StatefulSet ${name} to ${partition}`);
    },

    async releaseStatefulSetPartition(name) {
      return applyPartition(name, undefined, `hand the rollout partition of StatefulSet ${name} back to Helm`);
    },
  };
}
