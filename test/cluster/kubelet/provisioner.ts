// The folder provisioner behind the `standard` StorageClass: for each pending PVC of a class whose provisioner is
// ours, it creates a hostPath PV backed by <volumes>/<pv-name>, pre-bound to the claim (claimRef), and the real PV
// controller completes the binding. A Released PV with reclaim policy Delete loses its folder and its object.
// Folders outlive pods, as volumes do; they go with the claim (or with down.sh).
import fs from 'node:fs';
import path from 'node:path';
import { Api, isStatus } from './api.js';
import { Informer } from './informer.js';
import type { Logger } from './util.js';

export const PROVISIONER = 'e2e.qdrant-upgrade-guard.dev/folder';

export class FolderProvisioner {
  private readonly classes = new Map<string, any | null>();
  private readonly inFlight = new Set<string>();
  private pvcs!: Informer;
  private pvs!: Informer;

  constructor(
    private readonly api: Api,
    readonly volumesDir: string,
    private readonly log: Logger,
  ) {
    fs.mkdirSync(volumesDir, { recursive: true });
  }

  private async storageClass(name: string): Promise<any | undefined> {
    if (!this.classes.has(name)) this.classes.set(name, (await this.api.getOptional(`/apis/storage.k8s.io/v1/storageclasses/${name}`)) ?? null);
    return this.classes.get(name) ?? undefined;
  }

  async run(signal: AbortSignal): Promise<void> {
    this.pvcs = new Informer(this.api, '/api/v1/persistentvolumeclaims', { upsert: (o) => this.onClaim(o), remove: () => {} }, this.log);
    this.pvs = new Informer(this.api, '/api/v1/persistentvolumes', { upsert: (o) => this.onVolume(o), remove: () => {} }, this.log);
    await Promise.all([this.pvcs.run(signal), this.pvs.run(signal)]);
  }

  private once(key: string, fn: () => Promise<void>): void {
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    fn()
      .catch((err) => this.log(`provisioner: ${key}: ${(err as Error).message}`))
      .finally(() => this.inFlight.delete(key));
  }

  private onClaim(pvc: any): void {
    if (pvc.spec.volumeName || pvc.metadata.deletionTimestamp || pvc.status?.phase === 'Bound') return;
    const className: string | undefined = pvc.spec.storageClassName;
    if (!className) return;
    if (pvc.spec.dataSource || pvc.spec.dataSourceRef) {
      this.log(`provisioner: ${pvc.metadata.namespace}/${pvc.metadata.name}: data sources are not supported; provisioning an empty volume`);
    }
    this.once(`pvc/${pvc.metadata.uid}`, () => this.provision(pvc, className));
  }

  private async provision(pvc: any, className: string): Promise<void> {
    const sc = await this.storageClass(className);
    if (!sc || sc.provisioner !== PROVISIONER) return;
    const name = `pvc-${pvc.metadata.uid}`;
    if (await this.api.getOptional(`/api/v1/persistentvolumes/${name}`)) return;
    const folder = path.join(this.volumesDir, name);
    fs.mkdirSync(folder, { recursive: true, mode: 0o777 });
    fs.chmodSync(folder, 0o777);
    const size = pvc.spec.resources?.requests?.storage ?? '1Gi';
    try {
      await this.api.request('POST', '/api/v1/persistentvolumes', {
        body: {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER } },
          spec: {
            capacity: { storage: size },
            accessModes: pvc.spec.accessModes?.length ? pvc.spec.accessModes : ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
            storageClassName: className,
            volumeMode: pvc.spec.volumeMode ?? 'Filesystem',
            hostPath: { path: folder, type: 'DirectoryOrCreate' },
            claimRef: {
              apiVersion: 'v1',
              kind: 'PersistentVolumeClaim',
              namespace: pvc.metadata.namespace,
              name: pvc.metadata.name,
              uid: pvc.metadata.uid,
            },
          },
        },
      });
      this.log(`provisioner: ${pvc.metadata.namespace}/${pvc.metadata.name} -> ${name} (${folder})`);
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
    }
  }

  private onVolume(pv: any): void {
    if (pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'] !== PROVISIONER) return;
    if (pv.status?.phase !== 'Released' || pv.spec.persistentVolumeReclaimPolicy !== 'Delete' || pv.metadata.deletionTimestamp) return;
    this.once(`pv/${pv.metadata.name}`, async () => {
      const folder: string | undefined = pv.spec.hostPath?.path;
      // Never delete outside the volumes folder, whatever a PV says.
      if (folder && path.resolve(folder).startsWith(path.resolve(this.volumesDir) + path.sep)) fs.rmSync(folder, { recursive: true, force: true });
      try {
        await this.api.request('DELETE', `/api/v1/persistentvolumes/${pv.metadata.name}`);
        this.log(`provisioner: released ${pv.metadata.name} deleted`);
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
      }
    });
  }
}
