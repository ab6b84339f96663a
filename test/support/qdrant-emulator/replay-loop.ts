/**
 * The #6229 replay loop (reference: https://github.com/qdrant/qdrant/issues/6229): a used volume
 * that lost raft_state.json mints a new id, replays the old consensus WAL, and logs
 * "Replaced metadata of peer X from V to V" every 20-50 ms for the old id, with no leader and
 * /readyz 503. The period comes from peer.clock, so a simulated test counts lines per virtual
 * second exactly.
 */
import { TARGET } from './log.js';
import type { EmulatedPeer } from './peer.js';
import { lastOf } from './peer-storage.js';
import { mintPeerId } from './raft-state.js';
import { peerMetadataDebug } from './version.js';
import type { LogEntry } from './wal.js';

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

/** All voters other than us share our own URI: we are alone with phantoms of ourselves (#6229). */
export function isLonePhantomHost(peer: EmulatedPeer): boolean {
  const mine = peer.addresses.get(peer.id) ?? peer.selfUri;
  const others = peer.voters.filter((v) => v !== peer.id);
  return others.length > 0 && others.every((v) => peer.addresses.get(v) === mine);
}
