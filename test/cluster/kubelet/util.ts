// Small helpers shared by the stand-in's modules.

/** Sleeps `ms`, or less when the signal aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Kubernetes time format (RFC3339, second precision) for metav1.Time fields. */
export function kubeTime(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime (Lease renewTime). */
export function microTime(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

export type Logger = (msg: string) => void;
