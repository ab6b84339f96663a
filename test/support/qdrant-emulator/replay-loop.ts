/**
 * A used volume that lost raft_state.json (https://github.com/qdrant/qdrant/issues/6229), two ways:
 *
 * - replayLostState: what the real 1.13.5 and 1.16.3 binaries did when the emulator contract test
 *   (test/real-qdrant/emulator-contract.test.ts) and the real-Qdrant tier ran it (docs/incident-6229.md,
 *   test/fixtures/qdrant-logs/): `Initializing new raft state`, a new id, the collections loaded, the old
 *   consensus log applied again with its `Failed to apply collection meta operation entry` warnings, the
 *   old ids back at their old URIs (ours among them). Without --bootstrap the peer then elects itself
 *   over that log (term 1, ready, the phantom old id still a voter); with it, it joins as a new peer,
 *   which a 1.13 leader accepts (two ids at one URI) and a 1.16 leader refuses, after which the peer
 *   panics (consensus.ts).
 * - startReplayLoop: the EMULATED metadata-loop fault (QDRANT_EMULATOR_FAULT=metadata-loop), the log of
 *   the original report: "Replaced metadata of peer X from V to V" every 20-50 ms, no leader, /readyz
 *   503. The real binaries were not seen doing this on demand, so it is a fault a test asks for. The
 *   period comes from peer.clock, so a simulated test counts lines per virtual second exactly.
 */
import { TARGET } from './log.js';
import type { EmulatedPeer } from './peer.js';
import { lastOf } from './peer-storage.js';
import { loadCollections, writeReplicaState } from './storage.js';
import { mintPeerId } from './raft-state.js';
import { peerMetadataDebug } from './version.js';
import type { ConsensusOp, LogEntry } from './wal.js';

export function replayLostState(peer: EmulatedPeer, walEntries: LogEntry[]): void {
  const { cfg, log } = peer;
  peer.collections = loadCollections(cfg.storageDir);
  for (const name of peer.collections.keys()) log.info(TARGET.toc, `Loading collection: ${name}`);
  peer.voters = [];
  for (const e of walEntries) replayEntry(peer, e.op);
  if (cfg.bootstrap) {
    // It joins through the seed like a new peer; the cluster's log comes back from the leader.
    peer.voters = [];
    // Not a member yet: the state the real 1.16.3 left behind here had no first_voter, and what the
    // cluster knows comes back from the leader (the real 1.13.5 logged no metadata change on the way).
    peer.firstVoter = undefined;
    peer.metadata = new Map();
    peer.entries = [];
    peer.wal.rewrite([]);
    peer.snapshot = { index: 0, term: 0 };
    peer.commit = 0;
    peer.applied = 0;
    peer.joinTarget = cfg.bootstrap;
    peer.reproposeOnJoin = [...peer.collections.keys()];
  } else {
    // Alone with the old log: it wins its own election at term 1; the old ids stay voters, so
    // nothing new can commit ("silently stuck", docs/incident-6229.md).
    if (!peer.voters.includes(peer.id)) peer.voters.push(peer.id);
    peer.addresses.set(peer.id, peer.selfUri);
    peer.firstVoter ??= peer.voters[0];
    peer.entries = walEntries;
    peer.snapshot = { index: 0, term: 0 };
    peer.commit = lastOf(walEntries);
    peer.applied = peer.commit;
    peer.term = Math.max(1, ...walEntries.map((e) => e.term));
    peer.vote = peer.id;
    peer.selfElect = true;
  }
  peer.persist(true);
}

/** One old entry applied again on top of what the volume still holds, with Qdrant's complaints. */
function replayEntry(peer: EmulatedPeer, op: ConsensusOp): void {
  const { log } = peer;
  const refused = (why: string) =>
    log.warn(TARGET.consensusManager, `Failed to apply collection meta operation entry with user error: Wrong input: ${why}`);
  switch (op.type) {
    case 'CreateCollection':
      if (peer.collections.has(op.name)) return refused(`Collection \`${op.name}\` already exists!`);
      return peer.apply(op);
    case 'SetReplica': {
      const prev = peer.collections.get(op.collection)?.shards.get(op.shardId)?.get(op.peerId);
      if (prev !== undefined) return refused(`Replica ${op.peerId} of shard ${op.shardId} has state Some(${prev}), but expected Some(Initializing)`);
      const c = peer.collections.get(op.collection);
      if (!c) return;
      const replicas = c.shards.get(op.shardId) ?? new Map<string, string>();
      c.shards.set(op.shardId, replicas);
      replicas.set(op.peerId, op.state);
      writeReplicaState(peer.cfg.storageDir, c, op.shardId, peer.id);
      return;
    }
    case 'UpdatePeerMetadata':
      // The replays the real 1.13.5 printed held no "Replaced metadata" line (test/fixtures/qdrant-logs/).
      peer.metadata.set(op.peerId, { version: op.version });
      return;
    default:
      return peer.apply(op, false);
  }
}

export function startReplayLoop(peer: EmulatedPeer, walEntries: LogEntry[], fresh: boolean): void {
  const { cfg, log } = peer;
  peer.looping = true;
  peer.role = 'Candidate';
  peer.term = Math.max(peer.term, 1);
  peer.leaderId = undefined;
  if (fresh) {
    peer.voters = [peer.id];
    peer.firstVoter = peer.id;
    peer.addresses.set(peer.id, peer.selfUri);
    for (const e of walEntries) peer.apply(e.op, false);
    if (!peer.voters.includes(peer.id)) peer.voters.unshift(peer.id);
    peer.entries = walEntries;
    peer.commit = lastOf(walEntries);
    peer.applied = 0;
  }
  peer.loopEntries = walEntries
    .filter((e): e is LogEntry & { op: { type: 'UpdatePeerMetadata'; peerId: string; version: string } } => e.op.type === 'UpdatePeerMetadata')
    .map((e) => ({ peerId: e.op.peerId, version: e.op.version }));
  if (peer.loopEntries.length === 0) {
    // Forced by QDRANT_EMULATOR_FAULT on a volume without history, or a WAL we cannot read:
    // invent the old identity.
    const phantom = mintPeerId();
    peer.addresses.set(phantom, peer.selfUri);
    peer.voters.push(phantom);
    peer.metadata.set(phantom, { version: cfg.version });
    peer.loopEntries = [{ peerId: phantom, version: cfg.version }];
    peer.commit = Math.max(peer.commit, 3);
  }
  peer.persist(true);
  log.info(TARGET.consensus, `Replaying ${walEntries.length} consensus log entries from ${peer.wal.file}`);
  const step = () => {
    if (peer.stopped || !peer.looping) return;
    if (peer.loopCount >= cfg.timing.loopCap) return;
    const e = peer.loopEntries[peer.loopCount % peer.loopEntries.length]!;
    peer.loopCount++;
    peer.metadata.set(e.peerId, { version: e.version });
    log.info(
      TARGET.persistent,
      `Replaced metadata of peer ${e.peerId} from ${peerMetadataDebug(e.version)} to ${peerMetadataDebug(e.version)}`,
    );
    peer.persist(true); // Qdrant fsyncs the state on every applied entry
    const { loopMinMs, loopMaxMs } = cfg.timing;
    peer.after(loopMinMs + peer.clock.random() * (loopMaxMs - loopMinMs), step);
  };
  peer.after(cfg.timing.loopMinMs, step);
}
