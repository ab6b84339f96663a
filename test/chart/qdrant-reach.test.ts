// How the hooks reach Qdrant, rendered from the values that configure Qdrant: scheme, port, CA and its volume.
import { expect } from 'chai';
import { hooks, HELMS, render, renderOk, type K8sObject } from './support/helm.js';

const TLS = {
  config: { service: { enable_tls: true }, tls: { cert: '/qdrant/tls/tls.crt', key: '/qdrant/tls/tls.key', ca_cert: '/qdrant/tls/ca.crt' } },
  additionalVolumes: [{ name: 'certs', secret: { secretName: 'qdrant-tls' } }],
  additionalVolumeMounts: [{ name: 'certs', mountPath: '/qdrant/tls' }],
};

const runners = (docs: K8sObject[]) => hooks(docs).filter((d) => d.kind === 'Job' || d.kind === 'Pod');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const containers = (d: K8sObject): any[] => (d.kind === 'Job' ? d.spec.template.spec.containers : d.spec.containers);
const podSpec = (d: K8sObject) => (d.kind === 'Job' ? d.spec.template.spec : d.spec);
const flags = (d: K8sObject): string => (containers(d)[0].args as string[]).join(' ');

describe('chart: the hooks reach Qdrant as Qdrant is configured', () => {
  for (const helm of HELMS) {
    it(`plain HTTP on 6333 by default, no CA (${helm})`, () => {
      for (const d of runners(renderOk(helm, { upgrade: true }))) {
        expect(flags(d), d.metadata.name).to.match(/--qdrant-scheme http --qdrant-port 6333$/);
        expect(podSpec(d).volumes.map((v: { name: string }) => v.name)).to.deep.equal(['tmp']);
      }
    });

    it(`TLS: https, the CA file Qdrant is given, and its volume mounted read-only at the same path (${helm})`, () => {
      for (const d of runners(renderOk(helm, { upgrade: true, values: TLS }))) {
        expect(flags(d), d.metadata.name).to.match(/--qdrant-scheme https --qdrant-port 6333 --qdrant-ca-file \/qdrant\/tls\/ca\.crt$/);
        expect(podSpec(d).volumes).to.deep.include({ name: 'upgrade-guard-qdrant-tls', secret: { secretName: 'qdrant-tls' } });
        expect(containers(d)[0].volumeMounts).to.deep.include({ name: 'upgrade-guard-qdrant-tls', mountPath: '/qdrant/tls', readOnly: true });
      }
    });

    it(`a custom REST port reaches the hooks (${helm})`, () => {
      const values = {
        config: { service: { http_port: 7333 } },
        service: { ports: [{ name: 'http', port: 6333, targetPort: 7333 }, { name: 'grpc', port: 6334, targetPort: 6334 }, { name: 'p2p', port: 6335, targetPort: 6335 }] },
      };
      for (const d of runners(renderOk(helm, { upgrade: true, values }))) expect(flags(d)).to.contain('--qdrant-port 7333');
    });

    it(`p2p TLS changes nothing the hooks get (${helm})`, () => {
      const off = runners(renderOk(helm, { upgrade: true, values: TLS }));
      const on = runners(renderOk(helm, { upgrade: true, values: { ...TLS, config: { ...TLS.config, cluster: { p2p: { enable_tls: true } } } } }));
      expect(on.map((d) => [containers(d)[0].args, podSpec(d).volumes, containers(d)[0].volumeMounts])).to.deep.equal(
        off.map((d) => [containers(d)[0].args, podSpec(d).volumes, containers(d)[0].volumeMounts]),
      );
    });

    it(`insecureSkipVerify: the flag, no CA and no CA volume (${helm})`, () => {
      for (const d of runners(renderOk(helm, { upgrade: true, values: { ...TLS, upgradeGuard: { qdrantTls: { insecureSkipVerify: true } } } }))) {
        expect(flags(d)).to.match(/--qdrant-scheme https --qdrant-port 6333 --qdrant-insecure-skip-verify$/);
        expect(podSpec(d).volumes.map((v: { name: string }) => v.name)).to.deep.equal(['tmp']);
      }
    });

    it(`refuses at render time what the hooks could not work with, saying why and what to set (${helm})`, () => {
      const noMount = render(helm, { values: { config: TLS.config } });
      expect(noMount.status).to.not.equal(0);
      expect(noMount.stderr).to.contain('config.tls.ca_cert (/qdrant/tls/ca.crt) is not inside any additionalVolumeMounts mountPath');
      const mtls = render(helm, { values: { ...TLS, config: { ...TLS.config, service: { enable_tls: true, verify_https_client_certificate: true } } } });
      expect(mtls.stderr).to.contain('verify_https_client_certificate=true makes Qdrant require a client certificate');
      const port = render(helm, { values: { service: { ports: [{ name: 'http', port: 6333, targetPort: 7000 }, { name: 'grpc', port: 6334, targetPort: 6334 }, { name: 'p2p', port: 6335, targetPort: 6335 }] } } });
      expect(port.stderr).to.contain('service.ports http targetPort is 7000 but Qdrant listens on 6333');
    });
  }
});
