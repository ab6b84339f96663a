import { expect } from 'chai';
import { GuardError } from '../../hook/errors.js';
import { REQUIRED_PERMISSIONS } from '../../hook/kube/permissions.js';
import { startHarness, type Harness } from '../support/kube-api-double/harness.js';
import type { RbacRule } from '../support/kube-api-double/index.js';

async function failure(p: Promise<unknown>): Promise<GuardError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call should have failed').to.be.instanceOf(GuardError);
  return err as GuardError;
}

/** The Role rules REQUIRED_PERMISSIONS describes, minus one verb on one resource. */
function rulesWithout(resource: string, verb: string): RbacRule[] {
  return REQUIRED_PERMISSIONS.map((p) => ({
    apiGroups: [p.group],
    resources: [p.resource],
    verbs: p.resource === resource ? p.verbs.filter((v) => v !== verb) : p.verbs,
  }));
}

describe('kube adapter: what an SRE reads when the API says no, or does not answer', () => {
  let h: Harness;
  afterEach(() => h.close());

  describe('RBAC', () => {
    beforeEach(async () => {
      h = await startHarness({ double: { serviceAccount: 'qdrant-upgrade-guard' } });
      h.double.seedQdrantStatefulSet({ name: 'qdrant', replicas: 1 });
    });

    it('works with exactly the permissions the hook Role is meant to grant', async () => {
      h.double.rbac = rulesWithout('none', 'none');
      h.double.onPodCreated = () => ({ exitCode: 0, terminationMessage: '{}' });
      const sts = await h.api.getStatefulSet('qdrant');
      await h.api.listPods(sts.selector);
      await h.api.getPvc('qdrant-storage-qdrant-0');
      await h.api.listPvcs(sts.selector);
      await h.api.updateRecord('rec', () => '{}', {});
      await h.api.updateRecord('rec', () => '{"a":1}', {});
      await h.api.emitEvent({ involved: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'qdrant' }, type: 'Normal', reason: 'UpgradeGuardPassed', message: 'ok' });
      await h.api.podLogs('qdrant-0', { container: 'qdrant' });
      await h.api.patchStatefulSetPartition('qdrant', 0);
      await h.api.createVolumeSnapshot({ pvc: 'qdrant-storage-qdrant-0', className: 'c', name: 's' });
      await h.api.waitVolumeSnapshotReady('s', h.clock.now() + 5000);
      const spec = {
        name: 'guard-worker-qdrant-0',
        image: 'guard:1',
        args: ['volume'],
        storagePvc: 'qdrant-storage-qdrant-0',
        colocateWith: 'qdrant-0',
        placement: sts.podSpec,
      };
      await h.api.runWorkerPods([spec], { deadlineMs: h.clock.now() + 20_000 });
      expect(h.double.requests.filter((r) => r.status === 403)).to.deep.equal([]);
    });

    it('names the service account, verb, resource and group of a denied list, and the Role to fix', async () => {
      h.double.rbac = rulesWithout('pods', 'list');
      const err = await failure(h.api.listPods({ app: 'qdrant' }));
      expect(err.kind).to.equal('infrastructure');
      expect(err.transient).to.equal(false);
      expect(err.message).to.equal(
        'permission denied: the service account system:serviceaccount:qdrant-ns:qdrant-upgrade-guard cannot list pods (core) ' +
          'in namespace qdrant-ns (while trying to list pods (app=qdrant))',
      );
      expect(err.remedy).to.equal(
        'Grant list on pods (apiGroups: [""]) in the Role of this command (the chart renders one per command, exactly as wide as its calls: docs/rbac.md).',
      );
      // Permission errors are not retried: they do not fix themselves.
      expect(h.double.requests.filter((r) => r.status === 403)).to.have.length(1);
    });

    it('names the subresource and the API group when those are denied', async () => {
      h.double.rbac = rulesWithout('pods/log', 'get');
      const logErr = await failure(h.api.podLogs('qdrant-0', { container: 'qdrant' }));
      expect(logErr.message).to.match(/cannot get pods\/log \(core\) in namespace qdrant-ns/);

      h.double.rbac = rulesWithout('statefulsets', 'patch');
      const patchErr = await failure(h.api.patchStatefulSetPartition('qdrant', 0));
      expect(patchErr.message).to.match(/^permission denied: .* cannot patch statefulsets \(apps\) in namespace qdrant-ns/);
      expect(patchErr.remedy).to.contain('Grant patch on statefulsets (apiGroups: ["apps"])');

      h.double.rbac = rulesWithout('volumesnapshots', 'create');
      const snapErr = await failure(h.api.createVolumeSnapshot({ pvc: 'p', className: 'c', name: 'n' }));
      expect(snapErr.message).to.match(/cannot create volumesnapshots \(snapshot\.storage\.k8s\.io\)/);
    });
  });

  describe('not found', () => {
    beforeEach(async () => {
      h = await startHarness();
    });

    it('says which StatefulSet was looked for, where, and which flag to check', async () => {
      const err = await failure(h.api.getStatefulSet('qdrant'));
      expect(err.message).to.equal('StatefulSet qdrant not found in namespace qdrant-ns: is --statefulset right?');
      expect(err.remedy).to.contain('kubectl get statefulsets -n qdrant-ns');
      // A wrong name is a configuration error (exit 2), not the API failing.
      expect(err.kind).to.equal('usage');
    });

    it('gives an undefined PVC and record rather than an error', async () => {
      expect(await h.api.getPvc('qdrant-storage-qdrant-7')).to.equal(undefined);
      expect(await h.api.readRecord('nope')).to.equal(undefined);
    });
  });

  describe('an API server that fails or does not answer', () => {
    beforeEach(async () => {
      h = await startHarness({ api: { requestTimeoutMs: 300 } });
      h.double.seedQdrantStatefulSet({ name: 'qdrant', replicas: 1 });
    });

    const stsPath = '/apis/apps/v1/namespaces/qdrant-ns/statefulsets/qdrant';

    it('retries 5xx with exponential backoff and succeeds when the server recovers', async () => {
      h.double.inject({ path: stsPath, status: 500, count: 1 });
      h.double.inject({ path: stsPath, status: 503, count: 1 });
      const sts = await h.api.getStatefulSet('qdrant');
      expect(sts.name).to.equal('qdrant');
      expect(h.double.requestsTo('GET', stsPath).map((r) => r.status)).to.deep.equal([500, 503, 200]);
      expect(h.clock.sleeps).to.deep.equal([200, 400]);
    });

    it('honours Retry-After on 429', async () => {
      h.double.inject({ path: stsPath, status: 429, count: 1, retryAfterSeconds: 3 });
      await h.api.getStatefulSet('qdrant');
      expect(h.clock.sleeps).to.deep.equal([3000]);
    });

    it('gives up after a bounded number of tries with a transient error naming the call', async () => {
      h.double.inject({ path: stsPath, status: 503, count: 100 });
      const err = await failure(h.api.getStatefulSet('qdrant'));
      expect(h.double.requestsTo('GET', stsPath)).to.have.length(4);
      expect(h.clock.sleeps).to.deep.equal([200, 400, 800]);
      expect(err.transient).to.equal(true);
      expect(err.kind).to.equal('infrastructure');
      expect(err.message).to.equal(
        'could not get StatefulSet qdrant after 4 attempts: HTTP 503 ServiceUnavailable: the server is currently unable to handle the request',
      );
    });

    it('times out a hung request and retries it', async () => {
      h.double.inject({ path: stsPath, hang: true, count: 1 });
      const started = Date.now();
      const sts = await h.api.getStatefulSet('qdrant');
      expect(sts.name).to.equal('qdrant');
      expect(Date.now() - started).to.be.within(250, 3000);
      expect(h.double.requestsTo('GET', stsPath).map((r) => r.status)).to.deep.equal([-1, 200]);
    });

    it('turns a server that never answers into a timeout error, not a hang', async () => {
      h.double.inject({ path: stsPath, hang: true, count: 10 });
      const api = h.makeApi({ attempts: 2 });
      const err = await failure(api.getStatefulSet('qdrant'));
      expect(err.message).to.equal('could not get StatefulSet qdrant after 2 attempts: Timeout: the request timed out');
      expect(err.transient).to.equal(true);
    });

    it('reports an unreachable API server as a transient infrastructure error', async () => {
      await h.double.close();
      const err = await failure(h.makeApi({ attempts: 2 }).listPods('app=qdrant'));
      expect(err.message).to.match(/^could not list pods \(app=qdrant\) after 2 attempts: NetworkError: .*ECONNREFUSED/);
      expect(err.transient).to.equal(true);
    });

    it('does not retry a request the server rejected as invalid', async () => {
      h.double.inject({ method: 'PATCH', path: stsPath, status: 422, count: 1 });
      const err = await failure(h.api.patchStatefulSetPartition('qdrant', 1));
      expect(err.transient).to.equal(false);
      expect(err.message).to.equal(
        'could not set the rollout partition of StatefulSet qdrant to 1: HTTP 422 Invalid: Invalid: injected by the test',
      );
      expect(h.double.requestsTo('PATCH', stsPath)).to.have.length(1);
    });

    it('sends a forced server-side apply under its own field manager (client-node 1.x defaults to JSON patch)', async () => {
      await h.api.patchStatefulSetPartition('qdrant', 0);
      const [req] = h.double.requestsTo('PATCH', stsPath);
      expect(req!.status).to.equal(200);
      const q = new URLSearchParams(req!.query);
      expect(q.get('fieldManager')).to.equal('qdrant-upgrade-guard');
      expect(q.get('force')).to.equal('true');
    });

    it('rejects a kubeconfig whose token the server does not accept, without retrying', async () => {
      const { writeFileSync, readFileSync } = await import('node:fs');
      writeFileSync(h.kubeconfig, readFileSync(h.kubeconfig, 'utf8').replace(/token: .*/, 'token: wrong'));
      const err = await failure(h.makeApi().getStatefulSet('qdrant'));
      expect(err.message).to.equal("unauthorized: the API server rejected the hook's credentials while trying to get StatefulSet qdrant");
      expect(err.message).to.not.contain('wrong');
      expect(h.double.requests.filter((r) => r.status === 401)).to.have.length(1);
    });
  });
});
