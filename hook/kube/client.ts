/**
 * KubeApi on @kubernetes/client-node 1.x: loads the client configuration, settles the namespace, and composes
 * the resource groups in resources/ (StatefulSets, pods and their logs, PVCs, VolumeSnapshots, the record
 * ConfigMap, Events) behind the one KubeApi interface. Each method is one or two API calls through callApi()
 * (retries and error mapping live there) and returns plain snapshots (snapshots.ts). Never reads Secrets and
 * never logs request headers, so the token cannot leak into output.
 */
import { existsSync, readFileSync } from 'node:fs';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, ServerConfiguration, createConfiguration } from '@kubernetes/client-node';
import { infraError } from '../errors.js';
import { callApi, type CallDescription, type Expected } from './call.js';
import { middleware, type KubeContext } from './context.js';
import { eventOps } from './resources/events.js';
import { podOps } from './resources/pods.js';
import { pvcOps } from './resources/pvcs.js';
import { recordOps } from './resources/records.js';
import { statefulSetOps } from './resources/statefulsets.js';
import { volumeSnapshotOps } from './resources/volume-snapshots.js';
import type { KubeApi, KubeApiOptions } from './types.js';

export { REPORTING_COMPONENT } from './resources/events.js';
export { FIELD_MANAGER } from './resources/statefulsets.js';

const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** Namespace precedence: flag, in-cluster service-account file, kubeconfig context, "default". */
export function resolveNamespace(kc: KubeConfig, flag: string | undefined, saFile: string): string {
  if (flag) return flag;
  if (existsSync(saFile)) {
    const ns = readFileSync(saFile, 'utf8').trim();
    if (ns) return ns;
  }
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || 'default';
}

/** One KubeApi per command: every request counted, timed out per attempt, retried by callApi. */
export function createKubeApi(options: KubeApiOptions): KubeApi {
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw infraError(`cannot load the Kubernetes client configuration: ${(err as Error).message}`, {
      remedy: 'Run in a pod with a service account, or set KUBECONFIG / --kubeconfig.',
      cause: err,
    });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw infraError('the Kubernetes client configuration names no cluster', {
      remedy: 'Check the current context of the kubeconfig.',
    });
  }
  const namespace = resolveNamespace(
    kc,
    options.namespace,
    options.serviceAccountNamespaceFile ?? SERVICE_ACCOUNT_NAMESPACE_FILE,
  );
  const { clock, progress } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
  const retry = {
    attempts: options.attempts ?? 4,
    backoffMs: options.backoffMs ?? 200,
    maxBackoffMs: options.maxBackoffMs ?? 1600,
  };
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const progressEveryMs = (options.progressEverySeconds ?? 10) * 1000;
  let requests = 0;

  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    middleware: [
      middleware((req) => {
        requests += 1;
        options.onRequest?.(req.getHttpMethod(), req.getUrl());
        // A fresh signal per attempt: a hung apiserver costs one timeout, then callApi retries.
        req.setSignal(AbortSignal.timeout(requestTimeoutMs));
      }),
    ],
  });
  const ctx: KubeContext = {
    namespace,
    core: new CoreV1Api(config),
    apps: new AppsV1Api(config),
    custom: new CustomObjectsApi(config),
    call: <T>(d: Omit<CallDescription, 'namespace'>, fn: () => Promise<T>, expected?: Expected<T>) =>
      callApi({ ...d, namespace }, fn, { clock, retry }, expected),
    clock,
    progress,
    pollIntervalMs,
    progressEveryMs,
  };

  return {
    namespace,
    ...statefulSetOps(ctx),
    ...podOps(ctx),
    ...pvcOps(ctx),
    ...volumeSnapshotOps(ctx),
    ...recordOps(ctx),
    ...eventOps(ctx),
    requestCount: () => requests,
  };
}
