// restore-volume proceeds only when no Qdrant container can be running on the volume: one row per pod state.
import { expect } from 'chai';
import { heldState } from '../../../hook/commands/restore-volume.js';
import type { ContainerStatusSummary, PodSnapshot } from '../../../hook/kube/types.js';

const pod = (init: Partial<ContainerStatusSummary> | undefined, qdrant: Partial<ContainerStatusSummary>): PodSnapshot => ({
  name: 'qdrant-1', uid: 'u', ordinal: 1, ip: '10.0.0.2', nodeName: 'n', phase: 'Pending', ready: false, revision: 'r', labels: {}, images: {},
  restarts: 0,
  containers: [{ name: 'qdrant', state: 'waiting', ready: false, restartCount: 0, ...qdrant }],
  initContainers: init ? [{ name: 'upgrade-guard-startup-check', state: 'waiting', ready: false, restartCount: 0, ...init }] : [],
});
const refusedOnce = { exitCode: 1, reason: 'Error' };

describe('restore-volume: is the volume held?', () => {
  const rows: Array<{ name: string; pod: PodSnapshot | undefined; held: boolean; why: RegExp }> = [
    { name: 'no pod (ordinal above the replicas)', pod: undefined, held: true, why: /no pod uses the volume/ },
    { name: 'startup check refused, in back-off', pod: pod({ state: 'waiting', reason: 'CrashLoopBackOff', restartCount: 2, lastTermination: refusedOnce }, {}), held: true, why: /held by the startup check \(CrashLoopBackOff/ },
    { name: 'startup check retrying after a refusal', pod: pod({ state: 'running', restartCount: 3, lastTermination: refusedOnce }, {}), held: true, why: /held by the startup check/ },
    { name: 'startup check just refused', pod: pod({ state: 'terminated', exitCode: 1 }, {}), held: true, why: /held/ },
    { name: 'Qdrant running', pod: pod({ state: 'terminated', exitCode: 0 }, { state: 'running' }), held: false, why: /qdrant container of qdrant-1 is running/ },
    { name: 'startup check passed, Qdrant about to start', pod: pod({ state: 'terminated', exitCode: 0 }, {}), held: false, why: /has not refused/ },
    { name: 'startup check running for the first time', pod: pod({ state: 'running' }, {}), held: false, why: /has not refused/ },
    { name: 'no startup check (turned off)', pod: pod(undefined, {}), held: false, why: /no startup check/ },
  ];
  for (const r of rows) {
    it(`${r.name}: ${r.held ? 'held' : 'not held'}`, () => {
      const got = heldState(r.pod);
      expect(got.held).to.equal(r.held);
      expect(got.why).to.match(r.why);
    });
  }
});
