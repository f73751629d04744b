/**
 * The router (spec 01, 1.1): `GET {router}/v1/route?appId=…` answers with the WebSocket
 * URL to connect to, an optional `secondary` one, a `ttl` in seconds and, from servers of
 * revision 1.1, the app's `serverInfo` [ROUTER-INFO-1]. The client keeps an answer for at
 * most `ttl` seconds [ROUTER-TTL-1], and asks again once a connection to it fails.
 * @module
 */
import { formatErrors, httpValidators, type RouteResponse } from "@confab/protocol";
import { ConfabError } from "./errors.js";

/** The `fetch` the router client needs (the global one fits). */
export type FetchLike = (
  url: string,
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

/** The router failed: unreachable, an HTTP error, or an answer that is not a route. */
export class RouterError extends ConfabError {
  override name = "RouterError";
  /** The HTTP status, when the router answered. */
  readonly status: number | undefined;

  /**
   * @param message - what went wrong
   * @param status - the HTTP status, if any
   */
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

/** A router answer the client may use until `expiresAt`. */
export interface Route {
  /** The WebSocket URLs to try, `server` first then `secondary` [ROUTER-SECONDARY-2]. */
  readonly urls: readonly string[];
  /** When the answer stops being usable, ms on the client's clock [ROUTER-TTL-1]. */
  readonly expiresAt: number;
  /** The announcement, when the router sent one. */
  readonly serverInfo: RouteResponse["serverInfo"];
}

const validateRoute = httpValidators["route-response"];

/** Asks routers and caches their answers for their `ttl`. */
export class RouterClient {
  #cached: Route | undefined;
  readonly #base: string;
  readonly #appId: string;
  readonly #fetch: FetchLike;
  readonly #now: () => number;

  /**
   * @param base - the router's HTTP base, e.g. `http://127.0.0.1:8080`
   * @param appId - the app id
   * @param fetchFn - `fetch`
   * @param now - the clock, ms
   */
  constructor(base: string, appId: string, fetchFn: FetchLike, now: () => number) {
    this.#base = base.replace(/\/+$/, "");
    this.#appId = appId;
    this.#fetch = fetchFn;
    this.#now = now;
  }

  /** The cached answer if it is still within its `ttl`, else a fresh one [ROUTER-TTL-1]. */
  async route(): Promise<Route> {
    const cached = this.#cached;
    if (cached && this.#now() < cached.expiresAt) return cached;
    this.#cached = undefined;
    const secure = this.#base.startsWith("https:") ? "&secure=1" : "";
    const url = `${this.#base}/v1/route?appId=${encodeURIComponent(this.#appId)}${secure}`;
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      res = await this.#fetch(url);
    } catch (err) {
      throw new RouterError(`router ${url} unreachable: ${(err as Error).message}`);
    }
    if (!res.ok) throw new RouterError(`router answered HTTP ${res.status}`, res.status);
    const body = await res.json().catch(() => undefined);
    const checked = validateRoute?.(body);
    if (!checked?.ok) {
      throw new RouterError(
        `router answer is not a route: ${checked ? formatErrors(checked.errors) : "no validator"}`,
      );
    }
    const answer = checked.value as RouteResponse;
    const route: Route = {
      urls: answer.secondary ? [answer.server, answer.secondary] : [answer.server],
      expiresAt: this.#now() + answer.ttl * 1000,
      serverInfo: answer.serverInfo,
    };
    this.#cached = route;
    return route;
  }

  /** Drops the cached answer: a connection to its URLs failed, so the next attempt asks again. */
  forget(): void {
    this.#cached = undefined;
  }
}
