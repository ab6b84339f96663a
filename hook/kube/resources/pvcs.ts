/** PersistentVolumeClaims: one by name, or the StatefulSet's by selector. */
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { KubeContext } from '../context.js';
import { selectorString, toPvcSnapshot } from '../snapshots.js';
import type { KubeApi } from '../types.js';

export function pvcOps(ctx: KubeContext): Pick<KubeApi, 'getPvc' | 'listPvcs'> {
  const { call, core, namespace } = ctx;
  return {
    async getPvc(name) {
      const pvc = await call(
        { verb: 'get', resource: 'persistentvolumeclaims', group: '', what: `get PVC ${name}` },
        () => core.readNamespacedPersistentVolumeClaim({ name, namespace }) as Promise<V1PersistentVolumeClaim | undefined>,
        { 404: () => undefined },
      );
      return pvc ? toPvcSnapshot(pvc) : undefined;
    },

    async listPvcs(selector) {
      const labelSelector = selectorString(selector);
      const list = await call(
        { verb: 'list', resource: 'persistentvolumeclaims', group: '', what: `list PVCs (${labelSelector})` },
        () => core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector }),
      );
      return list.items.map(toPvcSnapshot).sort((a, b) => a.name.localeCompare(b.name));
    },
  };
}
