/**
 * The record ConfigMap: read, write and read-modify-write of record.json with optimistic concurrency (the
 * resourceVersion last read), so two writers never silently overwrite each other.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { infraError } from '../../errors.js';
import type { KubeContext } from '../context.js';
import { RECORD_KEY, type KubeApi } from '../types.js';

type Base = { resourceVersion: string; data: Record<string, string> } | null;

export function recordOps(ctx: KubeContext): Pick<KubeApi, 'readRecord' | 'writeRecord' | 'updateRecord'> {
  const { call, core, namespace } = ctx;
  // Record ConfigMaps as last read, for optimistic writes.
  const lastRead = new Map<string, Base>();

  async function readConfigMap(name: string): Promise<V1ConfigMap | undefined> {
    const cm = await call(
      { verb: 'get', resource: 'configmaps', group: '', what: `read the record ConfigMap ${name}` },
      () => core.readNamespacedConfigMap({ name, namespace }) as Promise<V1ConfigMap | undefined>,
      { 404: () => undefined },
    );
    lastRead.set(name, cm ? { resourceVersion: cm.metadata?.resourceVersion ?? '', data: { ...(cm.data ?? {}) } } : null);
    return cm;
  }

  /** Creates (base null) or replaces at base.resourceVersion; 'conflict' when someone wrote first. */
  async function putRecord(name: string, json: string, labels: Record<string, string>, base: Base): Promise<'ok' | 'conflict'> {
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace, labels },
      data: { ...(base?.data ?? {}), [RECORD_KEY]: json },
    };
    const conflict = () => 'conflict' as const;
    if (!base) {
      return call(
        { verb: 'create', resource: 'configmaps', group: '', what: `create the record ConfigMap ${name}` },
        async () => (await core.createNamespacedConfigMap({ namespace, body }), 'ok' as const),
        { 409: conflict },
      );
    }
    body.metadata!.resourceVersion = base.resourceVersion;
    return call(
      { verb: 'update', resource: 'configmaps', group: '', what: `update the record ConfigMap ${name}` },
      async () => (await core.replaceNamespacedConfigMap({ name, namespace, body }), 'ok' as const),
      // 404: deleted since we read it; report it as a conflict, the caller re-reads.
      { 409: conflict, 404: conflict },
    );
  }

  const conflictError = (name: string) =>
    infraError(`the record ConfigMap ${name} was changed by another writer while this hook updated it`, {
      remedy:
        'Another upgrade-guard hook may be running for this release (two helm upgrades at once?). ' +
        'Wait for it to finish, then retry.',
      transient: true,
    });

  return {
    async readRecord(name) {
      const cm = await readConfigMap(name);
      return cm?.data?.[RECORD_KEY];
    },

    async writeRecord(name, json, labels) {
      const base = lastRead.get(name) ?? null;
      if ((await putRecord(name, json, labels, base)) === 'ok') {
        lastRead.delete(name);
        return;
      }
      // Someone wrote between our read and our write. Retry only when their write left the record as we read it.
      const before = base?.data[RECORD_KEY];
      const current = await readConfigMap(name);
      const now = current?.data?.[RECORD_KEY];
      if (now === json) return;
      if (now !== before || (current === undefined) !== (base === null)) throw conflictError(name);
      if ((await putRecord(name, json, labels, lastRead.get(name) ?? null)) !== 'ok') throw conflictError(name);
      lastRead.delete(name);
    },

    async updateRecord(name, mutate, labels) {
      for (let attempt = 1; attempt <= 2; attempt++) {
        const current = (await readConfigMap(name))?.data?.[RECORD_KEY];
        const next = mutate(current);
        if ((await putRecord(name, next, labels, lastRead.get(name) ?? null)) === 'ok') {
          lastRead.delete(name);
          return next;
        }
      }
      throw conflictError(name);
    },
  };
}
