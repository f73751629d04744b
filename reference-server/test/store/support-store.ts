/** Shared fixtures of the store tests. */
import type { StoredMessage } from "../../src/store/store.js";

/** The app every store test writes to unless it tests isolation. */
export const APP = "app1";

/** A peer message alice → bob in conversation c1, overridable field by field. */
export function message(over: Partial<StoredMessage> & { id: string }): StoredMessage {
  return {
    appId: APP,
    cid: "c1",
    fromPeerId: "alice",
    toPeerIds: ["bob"],
    roomId: undefined,
    msg: `text of ${over.id}`,
    timestamp: 1000,
    receipt: false,
    ...over,
  };
}
