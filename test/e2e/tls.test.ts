// End to end, under Helm 3 and Helm 4: Qdrant with TLS on its REST port (a Secret holding a certificate from a CA made
// in this test, mounted through additionalVolumes as the official chart's TLS values do) on a non-default port, and an
// API key pair. The hooks reach every pod over HTTPS, verify the certificate against config.tls.ca_cert, send the
// read-only key, and a guarded staged upgrade passes, then `helm test`. Qdrant is the emulator (a test double).
import { expect } from 'chai';
import fs from 'node:fs';
import { atTierEnd, sharedCluster } from './support/guard-cluster.js';
import { testNamespace } from './support/cluster.js';
import { dumpOnFailure, Walk } from './support/guard-diagnostics.js';
import { baseValues, GuardRelease, HELM_MAJORS, HELM_TIMEOUT_SECONDS, mergeValues, type HelmRun, type Values } from './support/guard-release.js';
import { makePki, type TestPki } from '../support/tls-certs.js';

const STEP_MS = (HELM_TIMEOUT_SECONDS + 90) * 1000;
const PORT = 7333;

function expectHelmOk(r: HelmRun): void {
  expect(r.code, `${r.what} exited ${r.code}:\n${r.output.slice(-3000)}`).to.equal(0);
}

for (const helm of HELM_MAJORS) {
  describe(`TLS and a custom REST port end to end under ${helm}: a guarded upgrade over HTTPS`, function () {
    const walk = new Walk();
    let rel: GuardRelease;
    let pki: TestPki;

    const values = (v: string): Values =>
      mergeValues(baseValues(), {
        image: { tag: `v${v}` },
        apiKey: true,
        readOnlyApiKey: true,
        config: {
          service: { enable_tls: true, http_port: PORT },
          tls: { cert: '/qdrant/tls/tls.crt', key: '/qdrant/tls/tls.key', ca_cert: '/qdrant/tls/ca.crt' },
        },
        service: {
          ports: [
            { name: 'http', port: 6333, targetPort: PORT, protocol: 'TCP' },
            { name: 'grpc', port: 6334, targetPort: 6334, protocol: 'TCP' },
            { name: 'p2p', port: 6335, targetPort: 6335, protocol: 'TCP' },
          ],
        },
        additionalVolumes: [{ name: 'qdrant-tls', secret: { secretName: 'qdrant-tls' } }],
        additionalVolumeMounts: [{ name: 'qdrant-tls', mountPath: '/qdrant/tls' }],
      });

    before(async function () {
      this.timeout(60_000);
      const cluster = sharedCluster();
      rel = new GuardRelease(cluster, helm, `tls-${helm === 'helm3' ? 'h3' : 'h4'}`, testNamespace(`tls-${helm}`));
      pki = makePki();
      // The pods are dialled by IP; their certificate names the headless Service's pods, as a real one would.
      const { cert, key } = pki.issue('qdrant', [`DNS:*.${rel.statefulset}-headless.${rel.namespace}.svc.cluster.local`, `DNS:*.${rel.statefulset}-headless.${rel.namespace}.svc`]);
      await cluster.kubectlOk(['create', 'namespace', rel.namespace]);
      await cluster.kubectlOk(['create', 'secret', 'generic', 'qdrant-tls', '-n', rel.namespace,
        `--from-file=tls.crt=${cert}`, `--from-file=tls.key=${key}`, `--from-file=ca.crt=${pki.caFile}`]);
      atTierEnd(async () => {
        pki.dispose();
        if (!cluster.startedHere || process.env.E2E_KEEP_CLUSTER) await cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
      });
    });
    dumpOnFailure(() => rel);

    walk.step('installs 3 peers on 1.13.4 serving HTTPS on port 7333; `helm test` verifies them over TLS', STEP_MS, async () => {
      expectHelmOk(await rel.install(values('1.13.4')));
      await rel.waitPodsReady(3, ':v1.13.4');
      const t = await rel.test();
      expectHelmOk(t);
      expect(t.output).to.contain(`PASS: statefulset/${rel.statefulset} converged on 1.13.4`);
      expect(t.output).to.not.contain('NOT verified');
    });

    walk.step('a guarded staged upgrade to 1.13.5 passes: every hook reached Qdrant over HTTPS with the read-only key', STEP_MS, async () => {
      expectHelmOk(await rel.upgrade(values('1.13.5'), { wait: true }));
      const record = await rel.record();
      expect(record.verdicts).to.deep.include({ preUpgrade: 'pass', postUpgrade: 'pass' });
      const job = (await rel.job('pre-upgrade'))!;
      const c = job.spec.template.spec.containers[0];
      expect(c.args.join(' ')).to.contain(`--qdrant-scheme https --qdrant-port ${PORT} --qdrant-ca-file /qdrant/tls/ca.crt`);
      expect(c.env.map((e: { name: string }) => e.name)).to.include('QDRANT_READ_ONLY_API_KEY');
      expect(await rel.jobLog('post-upgrade')).to.contain(`PASS: statefulset/${rel.statefulset} converged on 1.13.5`);
      expect(fs.existsSync(pki.caFile)).to.equal(true);
    });
  });
}
