/** Events on the objects the hooks judge, so `kubectl describe` shows the verdict. */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { KubeContext } from '../context.js';
import type { KubeApi, ObjectRef } from '../types.js';

/** The component name Events carry; `kubectl get events` shows it as the source. */
export const REPORTING_COMPONENT = 'qdrant-upgrade-guard';

export function eventOps(ctx: KubeContext): Pick<KubeApi, 'emitEvent'> {
  const { call, core, namespace, clock } = ctx;
  return {
    async emitEvent({ involved, type, reason, message }) {
      const now = new Date(clock.now());
      // kubectl's naming: <object>.<unix nanoseconds in hex>, unique enough per object.
      const suffix = (BigInt(clock.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000))).toString(16);
      const body: CoreV1Event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${involved.name}.${suffix}`, namespace },
        involvedObject: { ...involvedRef(involved), namespace },
        type,
        reason,
        // The apiserver rejects messages over 1 KiB.
        message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
        source: { component: REPORTING_COMPONENT },
        reportingComponent: REPORTING_COMPONENT,
        reportingInstance: process.env['HOSTNAME'] || REPORTING_COMPONENT,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      await call(
        { verb: 'create', resource: 'events', group: '', what: `create Event ${reason} on ${involved.kind} ${involved.name}` },
        () => core.createNamespacedEvent({ namespace, body }),
      );
    },
  };
}

function involvedRef(ref: ObjectRef) {
  return { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, ...(ref.uid ? { uid: ref.uid } : {}) };
}
