/**
 * What every resource group of the Kubernetes adapter shares (client.ts builds it once per KubeApi): the
 * namespace, the generated API clients, and `call`, through which every request goes (retries and error
 * mapping in call.ts).
 */
import { Observable, type AppsV1Api, type CoreV1Api, type CustomObjectsApi, type ObservableMiddleware, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { GuardError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { Progress } from '../runtime/progress.js';
import type { ApiFailure, CallDescription, Expected } from './call.js';

export interface KubeContext {
  namespace: string;
  core: CoreV1Api;
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  call<T>(d: Omit<CallDescription, 'namespace'>, fn: () => Promise<T>, expected?: Expected<T>): Promise<T>;
  clock: Clock;
  progress: Progress;
  pollIntervalMs: number;
  progressEveryMs: number;
}

/** A client-node middleware that only touches the request. */
export function middleware(pre: (ctx: RequestContext) => void): ObservableMiddleware {
  return {
    pre: (ctx: RequestContext) => {
      pre(ctx);
      return new Observable(Promise.resolve(ctx));
    },
    post: (rsp: ResponseContext) => new Observable(Promise.resolve(rsp)),
  };
}

/** A wrong StatefulSet name or namespace is a configuration error (exit 2), not the API failing. */
export function stsNotFound(ctx: Pick<KubeContext, 'namespace'>, name: string) {
  return (f: ApiFailure): never => {
    throw new GuardError('usage', `StatefulSet ${name} not found in namespace ${ctx.namespace}: is --statefulset right?`, {
      remedy: `kubectl get statefulsets -n ${ctx.namespace} lists the names; pass the Qdrant one (the chart's fullname).`,
      cause: f.cause,
    });
  };
}
