/**
 * Message and group ids. Ids sort like acceptance order, and timestamps never go
 * backwards, so (timestamp, id) order is send order [ACK-ID-1, LOGS-ORDER-1].
 * @module
 */

/** Makes message ids and group ids from a source of random bytes. */
export class MessageIds {
  #lastTimestamp = 0;
  #seq = 0;
  /** Random bytes for message ids, taken in blocks: one randomBytes call per message was 4% of W2 (issue 11); group ids, rare, take theirs one call each. */
  #pool: Uint8Array = new Uint8Array(0);
  #used = 0;

  /** @param random random bytes (node:crypto's randomBytes, or a seeded one in tests). */
  constructor(private readonly random: (size: number) => Uint8Array) {}

  /** `size` fresh random bytes, from the pool. */
  #take(size: number): Uint8Array {
    if (this.#used + size > this.#pool.length) {
      this.#pool = this.random(RANDOM_BLOCK);
      this.#used = 0;
    }
    const bytes = this.#pool.subarray(this.#used, this.#used + size);
    this.#used += size;
    return bytes;
  }

  /**
   * A fresh message id and its timestamp: a base-36 time prefix, a process-wide sequence,
   * then randomness; the timestamp is `now`, or the last one if the clock went back.
   */
  next(now: number): { id: string; timestamp: number } {
    const timestamp = Math.max(now, this.#lastTimestamp);
    this.#lastTimestamp = timestamp;
    this.#seq = (this.#seq + 1) % 36 ** 6;
    const id =
      timestamp.toString(36).padStart(9, "0") +
      this.#seq.toString(36).padStart(6, "0") +
      Buffer.from(this.#take(6)).toString("base64url");
    return { id, timestamp };
  }

  /** A fresh group id: 24 hex digits [ROOM-CREATE-1]. */
  roomId(): string {
    return Buffer.from(this.random(12)).toString("hex");
  }
}

/** How many random bytes {@link MessageIds} takes at a time for message ids (a multiple of 6). */
const RANDOM_BLOCK = 6 * 1024;
