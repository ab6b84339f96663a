// Security contexts: every guard container (hook Jobs, test pod, startup check) is non-root, read-only, without
// capabilities or privilege escalation, under RuntimeDefault seccomp; Qdrant itself runs non-root and read-only too.
import { expect } from 'chai';
import { ciValuesFiles, find, HELMS, hooks, K8sObject, podSpec, renderOk } from './support/helm.js';

type Container = { name: string; securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } } };

function expectHardened(container: Container, pod: K8sObject['spec'], where: string): void {
  const sc = container.securityContext ?? {};
  expect(sc.runAsNonRoot, `${where}: runAsNonRoot`).to.equal(true);
  expect(sc.runAsUser, `${where}: runAsUser`).to.equal(1000);
  expect(sc.runAsGroup, `${where}: runAsGroup`).to.equal(1000);
  expect(sc.readOnlyRootFilesystem, `${where}: readOnlyRootFilesystem`).to.equal(true);
  expect(sc.allowPrivilegeEscalation, `${where}: allowPrivilegeEscalation`).to.equal(false);
  expect(sc.privileged ?? false, `${where}: privileged`).to.equal(false);
  expect(sc.capabilities?.drop, `${where}: capabilities.drop`).to.deep.equal(['ALL']);
  expect(sc.capabilities, `${where}: capabilities.add`).to.not.have.property('add');
  const seccomp = (sc.seccompProfile ?? pod.securityContext?.seccompProfile) as { type?: string } | undefined;
  expect(seccomp?.type, `${where}: seccomp`).to.equal('RuntimeDefault');
}

describe('chart: security contexts', () => {
  for (const helm of HELMS) {
    for (const file of ciValuesFiles()) {
      it(`${file}: every hook and test container is hardened (${helm})`, () => {
        const docs = renderOk(helm, { files: [file], upgrade: true });
        for (const doc of hooks(docs).filter((d) => d.kind === 'Job' || d.kind === 'Pod')) {
          const pod = podSpec(doc);
          expect(pod.securityContext.runAsNonRoot, doc.metadata.name).to.equal(true);
          expect(pod.securityContext.fsGroup, doc.metadata.name).to.equal(1000);
          expect(pod.hostNetwork ?? false).to.equal(false);
          for (const c of [...(pod.initContainers ?? []), ...pod.containers] as Container[]) {
            expectHardened(c, pod, `${doc.metadata.name}/${c.name}`);
          }
        }
      });

      it(`${file}: the startup check and Qdrant run non-root with read-only root filesystems (${helm})`, () => {
        const sts = find(renderOk(helm, { files: [file] }), 'StatefulSet', 'rel-qdrant');
        const pod = podSpec(sts);
        expect(pod.securityContext).to.include({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 });
        expect(pod.securityContext.seccompProfile).to.deep.equal({ type: 'RuntimeDefault' });
        for (const c of (pod.initContainers ?? []) as Container[]) expectHardened(c, pod, `init ${c.name}`);
        const qdrant = (pod.containers as Container[]).find((c) => c.name === 'qdrant')!;
        expect(qdrant.securityContext).to.include({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
        expect(qdrant.securityContext?.capabilities?.drop).to.deep.equal(['ALL']);
        expect(pod.automountServiceAccountToken).to.equal(false);
      });
    }

    it(`the startup check mounts the storage volume read-only and gets no API token (${helm})`, () => {
      const pod = podSpec(find(renderOk(helm), 'StatefulSet', 'rel-qdrant'));
      const [check] = pod.initContainers;
      expect(check.name).to.equal('upgrade-guard-startup-check');
      expect(check.command).to.deep.equal(['qdrant-upgrade-guard']);
      expect(check.args).to.deep.equal(['volume', '--check-only', '--storage', '/qdrant/storage', '--pod', '$(POD_NAME)']);
      expect(check.volumeMounts).to.deep.include({ name: 'qdrant-storage', mountPath: '/qdrant/storage', readOnly: true });
      expect(pod.automountServiceAccountToken).to.equal(false);
    });
  }
});
