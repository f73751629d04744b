/**
 * A map keyed by an app id and an id within that app (a peer id, a message id), as two
 * levels of `Map`.
 *
 * The store's mirrors were keyed by one string built from both ids. A built key longer than
 * a few characters is a new string that V8 flattens and hashes at every lookup: about 70 ns a
 * lookup more than two lookups by the ids themselves, whose hashes V8 computes once per
 * string and keeps (measured on Node 20; an ack made three such lookups, a group message
 * one per member; issue 11).
 *
 * The inner maps are handed out ({@link PairMap.inner}) so that the store's undo log can
 * name them as the target of a change like any other `Map`. An inner map that an undo
 * empties stays until {@link PairMap.prune}: at most one per app that had an entry.
 * @module
 */
export class PairMap<V> {
  readonly #apps = new Map<string, Map<string, V>>();

  /** The value of (`app`, `id`), or undefined. */
  get(app: string, id: string): V | undefined {
    return this.#apps.get(app)?.get(id);
  }

  /** Whether (`app`, `id`) has a value. */
  has(app: string, id: string): boolean {
    return this.#apps.get(app)?.has(id) ?? false;
  }

  /** Sets the value of (`app`, `id`). */
  set(app: string, id: string, value: V): void {
    this.inner(app).set(id, value);
  }

  /** Removes (`app`, `id`); whether it had a value. Drops the app's map once it is empty. */
  delete(app: string, id: string): boolean {
    const ids = this.#apps.get(app);
    if (ids === undefined || !ids.delete(id)) return false;
    if (ids.size === 0) this.#apps.delete(app);
    return true;
  }

  /** The map of `app`'s ids, created empty if it has none. */
  inner(app: string): Map<string, V> {
    let ids = this.#apps.get(app);
    if (ids === undefined) {
      ids = new Map();
      this.#apps.set(app, ids);
    }
    return ids;
  }

  /** The map of `app`'s ids, or undefined: never creates one. */
  innerIfAny(app: string): Map<string, V> | undefined {
    return this.#apps.get(app);
  }

  /** How many values, over every app. */
  get size(): number {
    let n = 0;
    for (const ids of this.#apps.values()) n += ids.size;
    return n;
  }

  /** Whether it holds no value: cheaper than `size === 0` with several apps. */
  get empty(): boolean {
    for (const ids of this.#apps.values()) if (ids.size > 0) return false;
    return true;
  }

  /** Every value, app by app, each app's in insertion order. */
  *values(): IterableIterator<V> {
    for (const ids of this.#apps.values()) yield* ids.values();
  }

  /**
   * Each app's map, in the order the apps first got a value: for a caller that walks one
   * app's entries from its oldest and stops early, which {@link PairMap.values} cannot do.
   */
  inners(): IterableIterator<Map<string, V>> {
    return this.#apps.values();
  }

  /** Every (app, id, value), as {@link PairMap.values} orders them. */
  *entries(): IterableIterator<[string, string, V]> {
    for (const [app, ids] of this.#apps) for (const [id, v] of ids) yield [app, id, v];
  }

  /** Removes every value. */
  clear(): void {
    this.#apps.clear();
  }

  /** Drops the apps' maps that are empty (an undo can leave one). */
  prune(): void {
    for (const [app, ids] of this.#apps) if (ids.size === 0) this.#apps.delete(app);
  }
}
