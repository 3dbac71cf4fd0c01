/**
 * Applying a numbered event stream exactly once and in order: duplicates are dropped, events that
 * arrive early wait for the missing ones, and a gap asks the server to send what was missed.
 */

const MAX_WAITING = 500;

export class SeqStream {
  /**
   * @param {number|null} lastSeq the highest seq already applied (null: take the first that comes)
   * @param {{apply: (frame: object) => void, resync: (lastSeq: number|null) => void}} handlers
   */
  constructor(lastSeq, { apply, resync }) {
    this.lastSeq = lastSeq;
    this.apply = apply;
    this.resync = resync;
    this.waiting = new Map();
    this.resyncing = false;
    this.seqAtResync = null;
  }

  offer(seq, frame) {
    if (!Number.isInteger(seq)) {
      console.error('Event without an integer seq', frame);
      return;
    }
    if (this.lastSeq !== null && seq <= this.lastSeq) return;
    if (this.lastSeq === null || seq === this.lastSeq + 1) {
      this.applyOne(seq, frame);
      this.drain();
      return;
    }
    if (this.waiting.size >= MAX_WAITING) this.waiting.clear();
    this.waiting.set(seq, frame);
    if (!this.resyncing) this.requestResync();
  }

  /** Ask for everything after lastSeq; the answer ends with a call to synced(). */
  requestResync() {
    this.resyncing = true;
    this.seqAtResync = this.lastSeq;
    this.resync(this.lastSeq);
  }

  /** The server has sent its backlog. */
  synced() {
    this.resyncing = false;
    this.drain();
    if (this.waiting.size === 0) return;
    if (this.lastSeq !== this.seqAtResync) {
      this.requestResync();
      return;
    }
    // The backlog did not fill the gap, so the server has no such events: go on after it rather
    // than asking forever.
    const next = Math.min(...this.waiting.keys());
    console.error(`Events ${this.lastSeq + 1}..${next - 1} are missing on the server; skipping them`);
    this.applyOne(next, this.waiting.get(next));
    this.drain();
  }

  /** The connection is gone: a resync in flight will not be answered. */
  disconnected() {
    this.resyncing = false;
  }

  applyOne(seq, frame) {
    this.lastSeq = seq;
    this.waiting.delete(seq);
    try {
      this.apply(frame);
    } catch (error) {
      console.error('Applying an event failed', frame, error);
    }
  }

  drain() {
    while (this.waiting.has(this.lastSeq + 1)) {
      this.applyOne(this.lastSeq + 1, this.waiting.get(this.lastSeq + 1));
    }
    for (const seq of this.waiting.keys()) {
      if (seq <= this.lastSeq) this.waiting.delete(seq);
    }
  }
}
