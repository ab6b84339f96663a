/**
 * The guard with the REAL Qdrant server (QDRANT_BIN_DIR) on the embedded control plane (test/cluster: real
 * apiserver/controllers, the kubelet stand-in running the real binaries), Helm 3 with --wait:
 *
 *  1. cost: a 3-peer upgrade 1.13.4 -> 1.13.5 with the guard (pre-upgrade, staged rollout, post-upgrade) vs the same
 *     upgrade with `upgradeGuard.enabled=false` (plain rolling update); real Qdrant's own start -> /readyz 200 per
 *     peer as the floor (its first log line's timestamp to the first 200 of a 50 ms poller on the pod IP);
 *  2. the incident on 1.13: raft_state.json of ordinal 2 lost before its pod restarts (after pre-upgrade when the
 *     guard is on), from that pod's Qdrant start to the verdict: the guard's post-upgrade FAILED with the #6229
 *     diagnosis, vs Helm's SUCCESS with the guard off over a consensus that now holds a phantom voter;
 *  3. the same on 1.16.3 (a restart of the same version with a template change): the guard's verdict vs what Helm
 *     says with the guard off (--timeout BENCH_REAL_TIMEOUT seconds, default 120), and ordinal 2's state 20 s later
 *     (the wiped 1.16 peer panics ~12 s after its start).
 * Point counts of the collection are printed before and after every step. Rounds of part 1: BENCH_REAL_ROUNDS
 * (default 2); parts 2 and 3 run once.
 * Needs `make cluster-build tools bundle` and QDRANT_BIN_DIR with 1.13.4, 1.13.5 (and 1.16.3 for part 3).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ensureCluster, releaseCluster, resolvedNames, testNamespace, type Cluster } from '../test/e2e/support/cluster.js';
import { baseValues, GuardRelease, mergeValues, type HelmRun, type Values } from '../test/e2e/support/guard-release.js';
import { clusterPeerIds, countPoints, createCollection, qdrantRan, realQdrantValues, upsertPoints } from '../test/e2e/support/real-qdrant.js';
import { availableQdrantVersions } from '../test/support/real-qdrant/binaries.js';
import { ensureBundle, median } from './lib.js';

const ROUNDS = Number(process.env.BENCH_REAL_ROUNDS ?? 2);
const TIMEOUT_116 = Number(process.env.BENCH_REAL_TIMEOUT ?? 120);
const PEERS = 3;
const COLLECTION = 'docs';
const POINTS = 1000;

type Guard = 'on' | 'off';

function values(version: string, guard: Guard, more: Values = {}): Values {
  return mergeValues(baseValues(), realQdrantValues(), { replicaCount: PEERS, image: { tag: `v${version}` }, upgradeGuard: { enabled: guard === 'on' } }, more);
}

/** Polls /readyz of every pod of the release at its current IP (from the stand-in's resolve file) every 50 ms. */
class ReadyPoller {
  /** IP -> first time /readyz answered 200. */
  readonly firstReady = new Map<string, number>();
  /** IP -> pod name and the first time the stand-in's resolve file named it (the pod's start on its node). */
  readonly firstSeen = new Map<string, { name: string; t: number }>();
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly sts: string) {}

  start(): this {
    this.loop = (async () => {
      while (!this.stopped) {
        let names: Record<string, string> = {};
        try {
          names = resolvedNames();
        } catch {
          // rewritten while read: next round
        }
        const mine = Object.entries(names).filter(([n]) => new RegExp(`^${this.sts}-\\d+$`).test(n));
        for (const [name, ip] of mine) if (!this.firstSeen.has(ip)) this.firstSeen.set(ip, { name, t: Date.now() });
        const ips = new Set(mine.map(([, ip]) => ip));
        await Promise.all(
          [...ips].filter((ip) => !this.firstReady.has(ip)).map(async (ip) => {
            try {
              const r = await fetch(`http://${ip}:6333/readyz`, { signal: AbortSignal.timeout(200) });
              if (r.ok && !this.firstReady.has(ip)) this.firstReady.set(ip, Date.now());
            } catch {
              // not up yet
            }
          }),
        );
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/** Start time of the pod's current Qdrant container: the CRI timestamp of its first log line. */
async function qdrantStartedAt(rel: GuardRelease, pod: string): Promise<number> {
  const r = await rel.cluster.kubectl(['logs', '-n', rel.namespace, pod, '-c', 'qdrant', '--timestamps', '--limit-bytes=4096']);
  const first = r.stdout.split('\n')[0] ?? '';
  const t = Date.parse(first.split(' ')[0] ?? '');
  if (Number.isNaN(t)) throw new Error(`no timestamped log line for ${pod}: ${r.stdout.slice(0, 300)} ${r.stderr}`);
  return t;
}

async function installWithPoints(rel: GuardRelease, version: string, guard: Guard): Promise<number> {
  const inst = await rel.install(values(version, guard));
  if (inst.code !== 0) throw new Error(`install ${rel.release} failed:\n${inst.output.slice(-2000)}`);
  const pods = await rel.waitPodsReady(PEERS, `:v${version}`, 120_000);
  const ran = [...(await qdrantRan(rel)).values()];
  if (!ran.every((r) => r.startsWith(`real ${version} `))) throw new Error(`${rel.release}: not the real Qdrant ${version}: ${ran.join('; ')}`);
  await createCollection(pods[0]!.ip!, COLLECTION, PEERS, 2);
  await upsertPoints(pods[0]!.ip!, COLLECTION, POINTS);
  return countPoints(pods[0]!.ip!, COLLECTION);
}

async function cleanup(rel: GuardRelease): Promise<void> {
  await rel.cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
}

// ---------------------------------------------------------------- 1. cost

interface Cost {
  guard: Guard;
  helmSeconds: number;
  startToReady: number[];
  before: number;
  after: number;
}

async function costRun(cluster: Cluster, guard: Guard, round: number): Promise<Cost> {
  const rel = new GuardRelease(cluster, 'helm3', `rb-cost-${guard}-${round}`, testNamespace(`rb-cost-${guard}`));
  try {
    const before = await installWithPoints(rel, '1.13.4', guard);
    const oldIps = new Set((await rel.pods()).map((p) => p.ip));
    const poller = new ReadyPoller(rel.statefulset).start();
    let up: HelmRun;
    try {
      up = await rel.upgrade(values('1.13.5', guard), { wait: true });
    } finally {
      await poller.stop();
    }
    if (up.code !== 0) throw new Error(`upgrade (guard ${guard}) failed:\n${up.output.slice(-3000)}`);
    const pods = await rel.waitPodsReady(PEERS, ':v1.13.5', 120_000);
    const startToReady: number[] = [];
    for (const p of pods) {
      const ready = poller.firstReady.get(p.ip!);
      if (oldIps.has(p.ip) || ready === undefined) continue;
      startToReady.push((ready - (await qdrantStartedAt(rel, p.name))) / 1000);
    }
    const after = await countPoints(pods[0]!.ip!, COLLECTION);
    return { guard, helmSeconds: up.seconds, startToReady, before, after };
  } finally {
    await cleanup(rel);
  }
}

// ---------------------------------------------------------------- 2 and 3. the incident

interface Incident {
  version: string;
  guard: Guard;
  /** Seconds from ordinal 2's Qdrant start without its state to Helm's answer. */
  toVerdict: number;
  helmCode: number;
  verdict: string;
  /** Ordinal 2's readiness and restarts 20 s after Helm answered. */
  later: string;
  /** Voters as the untouched ordinal 0 sees them afterwards. */
  voters: number;
  before: number;
  after: number | string;
}

async function incidentRun(cluster: Cluster, version: string, from: string, guard: Guard, round: number): Promise<Incident> {
  const rel = new GuardRelease(cluster, 'helm3', `rb-inc-${version.replace(/\./g, '')}-${guard}-${round}`, testNamespace(`rb-inc-${guard}`));
  try {
    const before = await installWithPoints(rel, from, guard);
    const pv2 = await rel.pvFolder(2);
    // The state goes between the old ordinal-2 process and the new one: once the stand-in has dropped the old pod's
    // name (its process is gone) and before the new pod starts. Deleted any earlier, a consensus commit in between
    // (every peer rewrites raft_state.json on one) would put it back. The guard's pre-upgrade ran before that (its
    // archive is from before the loss); the startup check is off, so nothing stands between the loss and Qdrant.
    const pod2Name = `${rel.statefulset}-2`;
    let deleted = false;
    let stop = false;
    const saboteur = (async () => {
      const ipBefore = resolvedNames()[pod2Name];
      while (!stop && !deleted) {
        let ip: string | undefined;
        try {
          ip = resolvedNames()[pod2Name];
        } catch {
          ip = ipBefore; // rewritten while read
        }
        if (ip !== ipBefore) {
          fs.rmSync(path.join(pv2, 'raft_state.json'), { force: true });
          deleted = true;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const more: Values = { upgradeGuard: { startupCheck: { enabled: false } }, podLabels: { 'bench-restart': 'yes' } };
    const timeoutArgs = version === from ? TIMEOUT_116 : undefined;
    const ipsBefore = new Set(Object.values(resolvedNames()));
    const poller = new ReadyPoller(rel.statefulset).start();
    let up: HelmRun;
    try {
      up = await upgradeWithTimeout(rel, values(version, guard, more), timeoutArgs);
    } finally {
      stop = true;
      await saboteur;
      await poller.stop();
    }
    const answeredAt = Date.now();
    if (!deleted) throw new Error(`${rel.release}: raft_state.json of ordinal 2 was never deleted`);
    // The incident starts when ordinal 2's new pod starts on its node (no init container: the startup check is off).
    const seen = [...poller.firstSeen.entries()].find(([ip, s]) => s.name === `${rel.statefulset}-2` && !ipsBefore.has(ip));
    if (!seen) throw new Error(`${rel.release}: ordinal 2 never restarted`);
    const started = seen[1].t;
    const log = guard === 'on' ? await rel.jobLog('post-upgrade') : up.output;
    const verdict =
      guard === 'on'
        ? /#6229/.test(log) && up.code !== 0
          ? 'post-upgrade FAILED: #6229 diagnosis'
          : `guard exit ${up.code} without the diagnosis`
        : up.code === 0
          ? 'Helm: SUCCESS'
          : /timed out|context deadline/i.test(up.output)
            ? `Helm: FAILED after --timeout ${timeoutArgs ?? 210}s`
            : `Helm: exit ${up.code}`;
    // What the cluster looks like 20 s after Helm answered: the 1.16 wiped peer panics ~12 s after its start.
    await new Promise((r) => setTimeout(r, 20_000));
    const pod2 = await rel.cluster.kubectlJson(['get', 'pod', '-n', rel.namespace, `${rel.statefulset}-2`]);
    const q2 = (pod2.status?.containerStatuses ?? []).find((c: any) => c.name === 'qdrant');
    let later = `20 s later ordinal 2 ${q2?.ready ? 'ready' : 'NOT ready'}, ${q2?.restartCount ?? '?'} restart(s)`;
    const logs = await rel.cluster.kubectl(['logs', '-n', rel.namespace, pod2Name, '-c', 'qdrant', '--tail=-1']);
    const prev = await rel.cluster.kubectl(['logs', '-n', rel.namespace, pod2Name, '-c', 'qdrant', '--previous', '--tail=-1']);
    const minted = /Initializing new raft state/.test(logs.stdout + prev.stdout);
    const pods = await rel.pods();
    const p0 = pods.find((p) => p.ordinal === 0);
    let voters = -1;
    let after: number | string = 'n/a';
    if (p0?.ip) {
      voters = (await clusterPeerIds(p0.ip)).peers.length;
      after = await countPoints(p0.ip, COLLECTION).catch((e: Error) => `error: ${e.message.slice(0, 80)}`);
    }
    // A crash-looping 1.16 peer logs the minting only in its first container, which `--previous` no longer shows.
    if (!minted && q2?.ready) later += ' (NO "Initializing new raft state" in its log: the incident did not happen)';
    return { version, guard, toVerdict: (answeredAt - started) / 1000, helmCode: up.code, verdict, later, voters, before, after };
  } finally {
    await cleanup(rel);
  }
}

async function upgradeWithTimeout(rel: GuardRelease, v: Values, timeoutSeconds: number | undefined): Promise<HelmRun> {
  if (timeoutSeconds === undefined) return rel.upgrade(v, { wait: true });
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'rb-values-'));
  const file = path.join(dir, 'values.yaml');
  fs.writeFileSync(file, JSON.stringify(v));
  try {
    return await rel.helmRun(
      'upgrade',
      ['upgrade', rel.release, path.join(process.cwd(), 'chart'), '--namespace', rel.namespace, '-f', file, '--timeout', `${timeoutSeconds}s`, ...rel.waitArgs()],
      timeoutSeconds,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const have = availableQdrantVersions();
  for (const v of ['1.13.4', '1.13.5']) {
    if (!have.includes(v)) {
      console.log(`skipped: QDRANT_BIN_DIR${process.env.QDRANT_BIN_DIR ? `=${process.env.QDRANT_BIN_DIR}` : ' (unset)'} has no Qdrant ${v}`);
      return;
    }
  }
  ensureBundle();
  const cluster = await ensureCluster();
  const costs: Cost[] = [];
  const incidents: Incident[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const guard of (round % 2 === 0 ? ['on', 'off'] : ['off', 'on']) as Guard[]) {
        const c = await costRun(cluster, guard, round);
        costs.push(c);
        console.log(
          `  cost round ${round + 1} guard ${guard.padEnd(3)} helm upgrade --wait ${c.helmSeconds.toFixed(1)} s; Qdrant start->ready ${c.startToReady.map((s) => s.toFixed(2)).join(', ')} s; points ${c.before} -> ${c.after}`,
        );
      }
    }
    for (const [version, from] of [['1.13.5', '1.13.4'], ...(have.includes('1.16.3') ? [['1.16.3', '1.16.3']] : [])] as Array<[string, string]>) {
      for (const guard of ['on', 'off'] as Guard[]) {
        const i = await incidentRun(cluster, version, from, guard, 0);
        incidents.push(i);
        console.log(
          `  incident ${from} -> ${version} guard ${guard.padEnd(3)} ${i.verdict} ${i.toVerdict.toFixed(1)} s after ordinal 2 started without its state; ${i.later}; voters seen by ordinal 0: ${i.voters}; points ${i.before} -> ${i.after}`,
        );
      }
    }
  } finally {
    await releaseCluster(cluster);
  }
  const on = costs.filter((c) => c.guard === 'on');
  const off = costs.filter((c) => c.guard === 'off');
  const helmOn = median(on.map((c) => c.helmSeconds));
  const helmOff = median(off.map((c) => c.helmSeconds));
  const floor = median(costs.flatMap((c) => c.startToReady));
  console.log(`real Qdrant, ${PEERS} peers, Helm 3 --wait, median of ${ROUNDS} round(s):`);
  console.log(`  upgrade 1.13.4 -> 1.13.5     guard on (staged) ${helmOn.toFixed(1)} s, guard off ${helmOff.toFixed(1)} s: +${(helmOn - helmOff).toFixed(1)} s (${((helmOn - helmOff) / PEERS).toFixed(2)} s per peer)`);
  console.log(`  Qdrant start -> /readyz 200  ${floor.toFixed(2)} s per peer (the floor)`);
  for (const i of incidents) {
    console.log(`  incident ${i.version} guard ${i.guard.padEnd(3)} ${i.verdict}: ${i.toVerdict.toFixed(1)} s from the start without state; ${i.later}; ${i.voters} voters afterwards; points ${i.before} -> ${i.after}`);
  }
}

await main();
