// API keys in every form reach Qdrant and the hooks only through secretKeyRef: a key is never a literal in a pod
// spec, and a literal key appears in no rendered object but the chart's Secret.
import { expect } from 'chai';
import { stringify } from 'yaml';
import { find, HELMS, hooks, K8sObject, podSpec, renderOk } from './support/helm.js';

const LITERAL = 'lit3ral-Api-Key-9f2c';
const LITERAL_RO = 'read-0nly-Key-77aa';

type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } };

function containers(doc: K8sObject): { name: string; env?: Env[] }[] {
  const pod = podSpec(doc);
  return [...(pod.initContainers ?? []), ...pod.containers];
}

function envOf(doc: K8sObject, container: string, name: string): Env | undefined {
  return containers(doc).find((c) => c.name === container)?.env?.find((e) => e.name === name);
}

const FORMS = [
  {
    form: 'generated (true)',
    values: { apiKey: true },
    ref: { name: 'rel-qdrant-apikey', key: 'api-key' },
  },
  {
    form: 'a literal string',
    values: { apiKey: LITERAL, readOnlyApiKey: LITERAL_RO },
    ref: { name: 'rel-qdrant-apikey', key: 'api-key' },
  },
  {
    form: 'valueFrom an existing Secret',
    values: { apiKey: { valueFrom: { secretKeyRef: { name: 'my-qdrant-key', key: 'token' } } } },
    ref: { name: 'my-qdrant-key', key: 'token' },
  },
  {
    form: 'a read-only key only',
    values: { readOnlyApiKey: LITERAL_RO },
    ref: { name: 'rel-qdrant-apikey', key: 'read-only-api-key' },
    // Every call the guard makes is a GET the read-only key may make: the CLI prefers this variable.
    env: 'QDRANT_READ_ONLY_API_KEY',
  },
];

describe('chart: API keys', () => {
  for (const helm of HELMS) {
    it(`with both keys, every hook and the test pod get both, the read-only one first (the CLI prefers it) (${helm})`, () => {
      const docs = renderOk(helm, { values: { apiKey: true, readOnlyApiKey: true }, upgrade: true });
      const runners = hooks(docs).filter((d) => d.kind === 'Job' || d.kind === 'Pod');
      expect(runners).to.have.length(3);
      for (const doc of runners) {
        const names = (containers(doc)[0].env as { name: string }[]).map((e) => e.name).filter((n) => n.includes('API_KEY'));
        expect(names, doc.metadata.name).to.deep.equal(['QDRANT_READ_ONLY_API_KEY', 'QDRANT_API_KEY']);
        expect(envOf(doc, containers(doc)[0].name, 'QDRANT_READ_ONLY_API_KEY')!.valueFrom!.secretKeyRef!.key).to.equal('read-only-api-key');
      }
    });

    for (const { form, values, ref } of FORMS) {
      const envName = (FORMS.find((f) => f.form === form) as { env?: string }).env ?? 'QDRANT_API_KEY';
      it(`${form}: every hook and the test pod read ${envName} from ${ref.name}/${ref.key}, never a literal (${helm})`, () => {
        const docs = renderOk(helm, { values, upgrade: true });
        const runners = hooks(docs).filter((d) => d.kind === 'Job' || d.kind === 'Pod');
        expect(runners).to.have.length(3);
        for (const doc of runners) {
          const env = envOf(doc, containers(doc)[0].name, envName);
          expect(env, doc.metadata.name).to.not.equal(undefined);
          expect(env, doc.metadata.name).to.not.have.property('value');
          const { optional, ...secretKeyRef } = env!.valueFrom!.secretKeyRef!;
          expect(secretKeyRef, doc.metadata.name).to.deep.equal(ref);
          // Pre-upgrade reads the running revision's Secret, which this very upgrade may be adding.
          expect(optional ?? false, doc.metadata.name).to.equal(doc.metadata.name.endsWith('pre-upgrade'));
        }
      });

      it(`${form}: Qdrant gets its keys from secretKeyRefs (${helm})`, () => {
        const sts = find(renderOk(helm, { values }), 'StatefulSet', 'rel-qdrant');
        for (const name of ['QDRANT__SERVICE__API_KEY', 'QDRANT__SERVICE__READ_ONLY_API_KEY']) {
          const env = envOf(sts, 'qdrant', name);
          if (env) {
            expect(env, name).to.not.have.property('value');
            expect(env.valueFrom?.secretKeyRef, name).to.have.keys(['name', 'key']);
          }
        }
        expect(envOf(sts, 'qdrant', 'QDRANT__SERVICE__API_KEY') ?? envOf(sts, 'qdrant', 'QDRANT__SERVICE__READ_ONLY_API_KEY')).to.not.equal(undefined);
      });
    }

    it(`a literal key appears in the Secret (base64) and in no other object (${helm})`, () => {
      const docs = renderOk(helm, { values: { apiKey: LITERAL, readOnlyApiKey: LITERAL_RO }, upgrade: true });
      const secret = find(docs, 'Secret', 'rel-qdrant-apikey');
      expect(Buffer.from(secret.data['api-key'], 'base64').toString()).to.equal(LITERAL);
      expect(Buffer.from(secret.data['read-only-api-key'], 'base64').toString()).to.equal(LITERAL_RO);
      for (const doc of docs.filter((d) => d.kind !== 'Secret')) {
        const text = stringify(doc);
        expect(text.includes(LITERAL) || text.includes(LITERAL_RO), `${doc.kind}/${doc.metadata.name}`).to.equal(false);
      }
    });

    it(`a generated key is 32 characters and appears in no other object (${helm})`, () => {
      const docs = renderOk(helm, { values: { apiKey: true } });
      const key = Buffer.from(find(docs, 'Secret', 'rel-qdrant-apikey').data['api-key'], 'base64').toString();
      expect(key).to.match(/^[A-Za-z0-9]{32}$/);
      for (const doc of docs.filter((d) => d.kind !== 'Secret')) expect(stringify(doc)).to.not.include(key);
    });

    it(`without a key there is no Secret and no key variable anywhere (${helm})`, () => {
      const docs = renderOk(helm, { upgrade: true });
      expect(docs.filter((d) => d.kind === 'Secret')).to.have.length(0);
      expect(stringify(docs)).to.not.match(/QDRANT_API_KEY|QDRANT__SERVICE__API_KEY/);
    });

    it(`a changed literal key restarts Qdrant (pod template checksum), a generated key does not (${helm})`, () => {
      const checksum = (values: Record<string, unknown>) =>
        find(renderOk(helm, { values }), 'StatefulSet', 'rel-qdrant').spec.template.metadata.annotations['checksum/apikey'];
      expect(checksum({ apiKey: 'first-key' })).to.not.equal(checksum({ apiKey: 'second-key' }));
      // Two renders draw two different random keys: the checksum must not see them.
      expect(checksum({ apiKey: true })).to.equal(checksum({ apiKey: true, readOnlyApiKey: false }));
      expect(checksum({ apiKey: true })).to.not.equal(checksum({ apiKey: 'first-key' }));
    });

    it(`an external key reaches Qdrant from the user's Secret; the chart's Secret copies nothing it cannot read (${helm})`, () => {
      const docs = renderOk(helm, { values: FORMS[2].values });
      // helm template has no cluster to read the user's Secret from: the chart's Secret is there (pods of a release
      // migrated from the official chart may mount it) but holds no key.
      const secrets = docs.filter((d) => d.kind === 'Secret');
      expect(secrets.map((s) => s.metadata.name)).to.deep.equal(['rel-qdrant-apikey']);
      expect(secrets[0]!.data ?? {}).to.deep.equal({});
    });

    for (const [what, values, localYaml] of [
      ['a read-write key', { apiKey: LITERAL }, `service:\n  api_key: ${LITERAL}`],
      ['a read-only key', { readOnlyApiKey: LITERAL_RO }, `service:\n  read_only_api_key: ${LITERAL_RO}`],
      ['both keys', { apiKey: LITERAL, readOnlyApiKey: LITERAL_RO }, `service:\n  api_key: ${LITERAL}\n  read_only_api_key: ${LITERAL_RO}`],
    ] as const) {
      it(`with ${what} the Secret serves local.yaml with the official chart's content (${helm})`, () => {
        const secret = find(renderOk(helm, { values, upgrade: true }), 'Secret', 'rel-qdrant-apikey');
        const decoded = Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
        expect(decoded['local.yaml']).to.equal(localYaml);
        if ('apiKey' in values) expect(decoded['api-key']).to.equal(LITERAL);
        if ('readOnlyApiKey' in values) expect(decoded['read-only-api-key']).to.equal(LITERAL_RO);
      });
    }
  }
});
