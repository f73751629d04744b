/**
 * A small typed event emitter. Listeners run in the order they were added; one that throws
 * does not stop the others, and its error is reported through the `error` event (an
 * `error` listener that throws is ignored, so that a broken handler cannot loop).
 * @module
 */
import { ConfabError } from "./errors.js";
import type { ClientEventName, ClientEvents, Listener } from "./types.js";

/** A handler's failure, as reported on the `error` event. */
export class ListenerError extends ConfabError {
  override name = "ListenerError";
  /** The event whose listener failed. */
  readonly event: string;
  /** What the listener threw or rejected with. */
  override readonly cause: unknown;

  /**
   * @param event - the event
   * @param cause - what the listener threw
   */
  constructor(event: string, cause: unknown) {
    super(
      `a "${event}" listener failed: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    this.event = event;
    this.cause = cause;
  }
}

/** The typed emitter behind `client.on` and `client.off`. */
export class Emitter {
  readonly #listeners = new Map<ClientEventName, Set<Listener<never>>>();

  /** Adds a listener; returns the function that removes it. */
  on<E extends ClientEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Removes a listener. */
  off<E extends ClientEventName>(event: E, listener: Listener<E>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** How many listeners `event` has. */
  count(event: ClientEventName): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /** The listeners of `event`, in the order they were added (a copy). */
  listeners<E extends ClientEventName>(event: E): Listener<E>[] {
    return [...(this.#listeners.get(event) ?? [])] as Listener<E>[];
  }

  /**
   * Calls every listener of `event` with `payload`. A listener that throws, or returns a
   * promise that rejects, is reported on `error`; the others run all the same.
   */
  emit<E extends ClientEventName>(event: E, payload: ClientEvents[E]): void {
    for (const listener of this.listeners(event)) {
      try {
        const result = listener(payload);
        if (result instanceof Promise) result.catch((err) => this.#failed(event, err));
      } catch (err) {
        this.#failed(event, err);
      }
    }
  }

  #failed(event: ClientEventName, err: unknown): void {
    if (event !== "error") this.emit("error", new ListenerError(event, err));
  }
}
