/**
 * Fault modes of a running peer (QDRANT_EMULATOR_FAULT or EmulatedPeerHandle.setMode; parsed in
 * faults.ts), and the parts of the REST answers they bend: commit and pending operations, the
 * consensus thread status, message send failures and /readyz. The start-up faults (new-peer-id,
 * metadata-loop, unreachable) act in peer.ts and replay-loop.ts when a lifetime begins.
 */
import type { FaultSpec } from './faults.js';
import { TARGET } from './log.js';
import type { EmulatedPeer } from './peer.js';
import * as consensus from './consensus.js';
import { writeReplicaState } from './storage.js';

/** Runtime faults (the start-up ones are handled by restarting, see cluster.ts). */
/** The runtime faults a lifetime starts with (QDRANT_EMULATOR_FAULT), once consensus runs. */
export function applyStartupFault(peer: EmulatedPeer): void {
  if (peer.fault.mode === 'lagging' && peer.fault.durationMs !== undefined) scheduleHeal(peer, peer.fault.durationMs);
  if (peer.fault.mode === 'consensus-stopped') stopConsensusThread(peer, peer.fault.err);
  if (peer.fault.mode === 'shards-dead') queueShardStateFault(peer);
}

export function setFault(peer: EmulatedPeer, spec: FaultSpec): void {
  const before = peer.fault;
  peer.fault = spec;
  peer.faultSince = peer.clock.now();
  peer.log.warn(TARGET.main, `emulator fault mode: ${spec.mode}`);
  if (before.mode === 'consensus-stopped' && spec.mode !== 'consensus-stopped') {
    peer.consensusErr = undefined;
    peer.consensusLastUpdate = new Date(peer.clock.now());
    consensus.resetElectionTimer(peer, true);
  }
  if (spec.mode === 'consensus-stopped') stopConsensusThread(peer, spec.err);
  if (spec.mode === 'lagging' && spec.durationMs !== undefined) scheduleHeal(peer, spec.durationMs);
  if (spec.mode === 'shards-dead') queueShardStateFault(peer);
  if (before.mode === 'shards-dead' && spec.mode !== 'shards-dead') queueShardState(peer, 'Active');
}

export function scheduleHeal(peer: EmulatedPeer, ms: number): void {
  const since = peer.faultSince;
  peer.after(ms, () => {
    if (peer.fault.mode === 'lagging' && peer.faultSince === since) {
      peer.fault = { mode: 'healthy' };
      peer.log.info(TARGET.main, 'emulator fault mode: healthy (lag over)');
    }
  });
}

export function stopConsensusThread(peer: EmulatedPeer, err?: string): void {
  peer.consensusErr = err ?? 'Consensus thread stopped: emulated fault (QDRANT_EMULATOR_FAULT=consensus-stopped)';
  peer.log.error(TARGET.consensus, `Consensus stopped with error: ${peer.consensusErr}`);
}

export function queueShardStateFault(peer: EmulatedPeer): void {
  queueShardState(peer, peer.fault.shardState ?? 'Dead');
}

export function queueShardState(peer: EmulatedPeer, state: string): void {
  // Proposed even when the local view already shows `state`: an earlier proposal may still be
  // on its way and would otherwise win.
  if (peer.cfg.clusterEnabled) {
    for (const c of peer.collections.values()) {
      for (const [shardId, replicas] of c.shards) {
        if (replicas.has(peer.id)) peer.propose({ type: 'SetReplica', collection: c.name, shardId, peerId: peer.id, state });
      }
    }
  } else {
    for (const c of peer.collections.values()) {
      for (const [shardId, replicas] of c.shards) {
        if (replicas.has(peer.id)) {
          replicas.set(peer.id, state);
          writeReplicaState(peer.cfg.storageDir, c, shardId, peer.id);
        }
      }
    }
  }
}

/** Commit and pending operations as reported, lag fault included. */
export function reportedRaft(peer: EmulatedPeer): { commit: number; pending: number } {
  let commit = peer.commit;
  let pending = Math.max(0, peer.commit - peer.applied);
  if (peer.fault.mode === 'lagging') {
    const lag = peer.fault.lagEntries ?? 3;
    commit = Math.max(0, peer.commit - lag);
    pending = Math.max(pending, lag);
  }
  return { commit, pending };
}

export function consensusThreadStatus(peer: EmulatedPeer): { consensus_thread_status: string; err?: string; last_update?: string } {
  if (peer.consensusErr) return { consensus_thread_status: 'stopped_with_err', err: peer.consensusErr };
  return { consensus_thread_status: 'working', last_update: peer.consensusLastUpdate.toISOString() };
}

export function messageSendFailures(peer: EmulatedPeer): Record<string, { count: number; latest_error: string; latest_error_timestamp: string }> {
  const out: Record<string, { count: number; latest_error: string; latest_error_timestamp: string }> = {};
  const now = peer.clock.now();
  const after = Math.max(3 * peer.cfg.timing.pollMs, 1000);
  if (peer.role === 'Leader' && peer.cfg.clusterEnabled) {
    for (const v of peer.voters) {
      if (v === peer.id) continue;
      const seen = peer.lastContact.get(v) ?? peer.leaderSince;
      const silent = now - seen;
      const uri = peer.addresses.get(v);
      if (silent > after && uri && uri !== peer.selfUri) {
        out[uri] = {
          count: Math.max(1, Math.floor(silent / peer.cfg.timing.pollMs)),
          latest_error: `Failed to send message to ${uri}: status: Unavailable, message: "peer did not answer"`,
          latest_error_timestamp: new Date(now).toISOString(),
        };
      }
    }
  } else if (peer.lastPullError) {
    out[peer.lastPullError.uri] = {
      count: peer.lastPullError.count,
      latest_error: peer.lastPullError.error,
      latest_error_timestamp: peer.lastPullError.at.toISOString(),
    };
  }
  return out;
}

/** /readyz in cluster mode: caught up with the cluster commit and local shards active (docs/qdrant-facts.md#http-api). */
export function isReady(peer: EmulatedPeer): boolean {
  const { mode } = peer.fault;
  if (mode === 'not-ready' || mode === 'lagging' || mode === 'shards-dead' || peer.looping) return false;
  const localActive = [...peer.collections.values()].every((c) =>
    [...c.shards.values()].every((r) => !r.has(peer.id) || r.get(peer.id) === 'Active'),
  );
  if (!localActive) return false;
  if (!peer.cfg.clusterEnabled) return true;
  if (peer.consensusStopped) return true; // readiness was decided before the thread died
  if (!peer.leaderId || !peer.voters.includes(peer.id)) return false;
  if (peer.role === 'Leader') return peer.applied >= peer.commit;
  return peer.synced && peer.applied >= peer.leaderCommit;
}
