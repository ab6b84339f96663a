/** VolumeSnapshots (snapshot.storage.k8s.io/v1, a CRD): take one of a PVC and wait until it is ready or failed. */
import { infraError } from '../../errors.js';
import type { KubeContext } from '../context.js';
import type { KubeApi, VolumeSnapshotResult } from '../types.js';

const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';

interface VolumeSnapshotObject {
  metadata?: { name?: string; uid?: string };
  spec?: { source?: { persistentVolumeClaimName?: string } };
  status?: {
    readyToUse?: boolean;
    boundVolumeSnapshotContentName?: string;
    restoreSize?: string | number;
    error?: { message?: string; time?: string };
  };
}

export function volumeSnapshotOps(ctx: KubeContext): Pick<KubeApi, 'createVolumeSnapshot' | 'waitVolumeSnapshotReady'> {
  const { call, custom, namespace, clock, progress, pollIntervalMs, progressEveryMs } = ctx;

  async function getVolumeSnapshot(name: string): Promise<VolumeSnapshotObject | undefined> {
    return call(
      { verb: 'get', resource: 'volumesnapshots', group: SNAPSHOT_GROUP, what: `get VolumeSnapshot ${name}` },
      () =>
        custom.getNamespacedCustomObject({ group: SNAPSHOT_GROUP, version: 'v1', namespace, plural: 'volumesnapshots', name }) as Promise<VolumeSnapshotObject>,
      { 404: () => undefined },
    );
  }

  return {
    async createVolumeSnapshot({ pvc, className, name, labels }) {
      const body = {
        apiVersion: `${SNAPSHOT_GROUP}/v1`,
        kind: 'VolumeSnapshot',
        metadata: { name, namespace, labels: labels ?? {} },
        spec: { volumeSnapshotClassName: className, source: { persistentVolumeClaimName: pvc } },
      };
      const d = { verb: 'create', resource: 'volumesnapshots', group: SNAPSHOT_GROUP, what: `create VolumeSnapshot ${name} of PVC ${pvc}` };
      const created = await call(d, () => custom.createNamespacedCustomObject({ group: SNAPSHOT_GROUP, version: 'v1', namespace, plural: 'volumesnapshots', body }), {
        404: (f) => {
          throw infraError(`the VolumeSnapshot API (${SNAPSHOT_GROUP}/v1) is not served by this cluster`, {
            remedy:
              'Install the CSI external-snapshotter CRDs and controller, or unset upgradeGuard.volumeSnapshotClassName.',
            cause: f.cause,
          });
        },
        // A retried create whose first attempt went through: the object is ours if it snapshots the same PVC.
        409: async () => {
          const existing = await getVolumeSnapshot(name);
          if (existing?.spec?.source?.persistentVolumeClaimName !== pvc) {
            throw infraError(`a VolumeSnapshot named ${name} already exists for another volume`, {
              remedy: `Delete VolumeSnapshot ${name} in namespace ${namespace} or retry later (names carry a timestamp).`,
            });
          }
          return existing;
        },
      });
      const meta = (created as { metadata?: { name?: string; uid?: string } }).metadata;
      return { name: meta?.name ?? name, uid: meta?.uid ?? '' };
    },

    async waitVolumeSnapshotReady(name, deadlineMs) {
      let lastProgress = clock.now();
      for (;;) {
        const vs = await getVolumeSnapshot(name);
        if (!vs) {
          throw infraError(`VolumeSnapshot ${name} disappeared from namespace ${namespace} while waiting for it`, {
            remedy: 'Something deleted it; check the snapshot controller and retry.',
          });
        }
        const status = vs.status ?? {};
        const base = {
          name,
          ...(status.boundVolumeSnapshotContentName ? { boundVolumeSnapshotContentName: status.boundVolumeSnapshotContentName } : {}),
          ...(status.restoreSize !== undefined ? { restoreSize: String(status.restoreSize) } : {}),
        };
        if (status.readyToUse === true) return { ...base, state: 'ready', message: 'readyToUse' } satisfies VolumeSnapshotResult;
        if (status.error?.message) return { ...base, state: 'failed', message: status.error.message } satisfies VolumeSnapshotResult;
        const seen = `readyToUse ${status.readyToUse ?? 'unset'}${status.boundVolumeSnapshotContentName ? `, content ${status.boundVolumeSnapshotContentName}` : ', no content bound yet'}`;
        const now = clock.now();
        if (now >= deadlineMs) return { ...base, state: 'timeout', message: `deadline passed with ${seen}` } satisfies VolumeSnapshotResult;
        if (now - lastProgress >= progressEveryMs) {
          lastProgress = now;
          progress.say(`waiting for VolumeSnapshot ${name} (${seen})`);
        }
        await clock.sleep(Math.min(pollIntervalMs, deadlineMs - now));
      }
    },
  };
}
