/**
 * `diagnose-logs`: reads a Qdrant log the operator already has (`kubectl logs qdrant-0 | qdrant-upgrade-guard
 * diagnose-logs -`, or `--log FILE`) and says whether the qdrant/qdrant#6229 signature is in it, with the evidence
 * and what to do. The decision is hook/policy/diagnose-logs.ts; this reads lines, streaming, so a log of any size
 * costs one line of memory plus the detector's bounded window.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { usageError, wrapError } from '../errors.js';
import { diagnosisChecks, LogDiagnoser } from '../policy/diagnose-logs.js';
import type { Report } from '../report.js';

export interface DiagnoseLogsOptions {
  /** A file path, or `-` for standard input; absent: the log is read from the cluster (`readPodLog`). */
  log?: string;
  /** Reads the pod's log through the Kubernetes API (`--pod` without a log file). */
  readPodLog?: () => Promise<string>;
  pod?: string;
  /** The id the record ConfigMap holds for this pod (decimal u64). */
  recordedPeerId?: string;
  /** Qdrant's storage path in the pod, for the restore command in the remedy (default /qdrant/storage). */
  storagePath?: string;
  /** Standard input, injectable for tests. */
  stdin?: NodeJS.ReadableStream;
}

const U64 = /^(0|[1-9][0-9]{0,19})$/;

export async function runDiagnoseLogs(opts: DiagnoseLogsOptions): Promise<Report> {
  if (opts.recordedPeerId !== undefined && (!U64.test(opts.recordedPeerId) || BigInt(opts.recordedPeerId) > 18446744073709551615n)) {
    throw usageError(
      `--recorded-peer-id must be a peer id (a decimal u64), got ${JSON.stringify(opts.recordedPeerId)}`,
      'Copy it from the record ConfigMap: kubectl get configmap <release>-upgrade-guard -o yaml.',
    );
  }
  let input: NodeJS.ReadableStream;
  const source = opts.log === undefined ? `the log of pod ${opts.pod ?? '?'} (Kubernetes API)` : opts.log === '-' ? 'standard input' : opts.log;
  if (opts.log === undefined) {
    if (!opts.readPodLog) throw usageError('diagnose-logs needs a log: a file, - for standard input, or --pod to read it from the cluster');
    input = Readable.from([await opts.readPodLog()]);
  } else if (opts.log === '-') {
    input = opts.stdin ?? process.stdin;
  } else {
    const st = await stat(opts.log).catch((err: NodeJS.ErrnoException) => {
      throw usageError(`cannot read the log ${opts.log}: ${err.code ?? err.message}`, 'Give a log file, or - and pipe the log in: kubectl logs qdrant-0 | qdrant-upgrade-guard diagnose-logs -');
    });
    if (!st.isFile()) throw usageError(`${opts.log} is not a file`, 'Give a log file, or - and pipe the log in.');
    input = createReadStream(opts.log, { encoding: 'utf8' });
  }

  const diagnoser = new LogDiagnoser({
    ...(opts.pod ? { pod: opts.pod } : {}),
    ...(opts.recordedPeerId ? { recordedPeerId: opts.recordedPeerId } : {}),
  });
  try {
    const lines = createInterface({ input, crlfDelay: Infinity });
    for await (const line of lines) diagnoser.push(line);
  } catch (err) {
    throw wrapError(err, `while reading ${source}`);
  }

  const d = diagnoser.diagnosis();
  // Nothing read is not a clean log: usually the command in front of the pipe failed (kubectl logs on a wrong pod).
  if (d.linesRead === 0) {
    throw usageError(`no log lines in ${source}: nothing to diagnose`, 'Check the command that produced the log, e.g. kubectl logs qdrant-0 (add --previous for a crashed container).');
  }
  const checks = diagnosisChecks(d, opts.storagePath ? { storagePath: opts.storagePath } : {});
  const who = d.pod ?? 'the log';
  const summary = d.signature
    ? `${who}: #6229 signature found, ${d.role === 'lost-state' ? 'this peer lost its raft state' : 'this peer saw another one lose its state'} ` +
      `(${d.findings.map((f) => `${f.kind} x${f.count}`).join(', ')})`
    : `${who}: no #6229 signature in ${d.linesRead} line(s)`;
  return {
    schemaVersion: 1,
    command: 'diagnose-logs',
    verdict: d.signature ? 'fail' : 'pass',
    summary,
    checks,
    details: {
      signature: d.signature,
      role: d.role,
      source,
      ...(d.pod ? { pod: d.pod } : {}),
      linesRead: d.linesRead,
      formats: d.formats,
      findings: d.findings,
      notes: d.notes,
      mintedPeerId: d.mintedPeerId ?? null,
      previousPeerId: d.previousPeerId ?? null,
    },
  };
}
