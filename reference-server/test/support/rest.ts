/**
 * REST history as the HTTP adapter serves it, without a socket: the query string's text
 * turned into the query the core checks (`logsQueryOf`), the core's answer, and the HTTP
 * status the adapter maps its error to (`httpStatusOf`). Core tests of chapter 05 use it
 * so that they state the endpoint's observable behaviour (status, code) in one call.
 */
import { httpStatusOf, logsQueryOf } from "../../src/adapter/http.js";
import type { ProtocolEngine, RestRequest } from "../../src/core/types.js";

/** What the endpoint answers: the items, or the HTTP status, the code and the message. */
export type RestAnswer =
  | {
      readonly ok: true;
      readonly items: readonly Record<string, unknown>[];
      /** Whether the response carries `X-Confab-More: true` [REST-MORE-1]. */
      readonly more?: true;
    }
  | { readonly ok: false; readonly status: number; readonly code: number; readonly error: string };

/** Runs one REST history request against `engine`, as `GET ...?query` would. */
export function restVia(
  engine: ProtocolEngine,
  appId: string | undefined,
  masterKey: string | undefined,
  query: Record<string, string | undefined>,
  request?: RestRequest,
): RestAnswer {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.append(k, v);
  const r = engine.restLogs(appId, masterKey, logsQueryOf(params), request);
  // `more` is the X-Confab-More header of the response [REST-MORE-1].
  if (r.ok) return r.more ? { ok: true, items: r.items, more: true } : { ok: true, items: r.items };
  return { ok: false, status: httpStatusOf(r.error), code: r.error.code, error: r.detail };
}
