// kubectl as a ServiceAccount: a TokenRequest token (`kubectl create token`, as admin) in a kubeconfig of its own
// with the cluster's server and CA and no client certificate, so every call goes through RBAC as that account.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubectlBin, run, type Cluster, type RunResult } from './cluster.js';

export interface TokenKubectl {
  kubeconfig: string;
  run(args: string[]): Promise<RunResult>;
  dispose(): void;
}

export async function tokenKubectl(cluster: Cluster, namespace: string, serviceAccount: string): Promise<TokenKubectl> {
  const token = (await cluster.kubectlOk(['create', 'token', serviceAccount, '-n', namespace, '--duration', '10m'])).trim();
  const admin = JSON.parse(await cluster.kubectlOk(['config', 'view', '--raw', '--minify', '-o', 'json']));
  const clusterEntry = admin.clusters[0];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-e2e-token-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: clusterEntry.cluster }],
      users: [{ name: serviceAccount, user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'e2e', user: serviceAccount, namespace } }],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  return {
    kubeconfig,
    run: (args) => run(kubectlBin, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, timeoutMs: 30_000 }),
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
