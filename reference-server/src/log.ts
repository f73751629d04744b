/**
 * A small structured logger: one JSON object per line, `{"ts", "level", "event", ...fields}`.
 * The server logs significant events only (listening, shutdown, connection errors, storage
 * failures); the protocol core's own events ({@link LogEvent}) go through the same logger.
 * @module
 */
import type { LogEvent } from "./core/types.js";

/** Severity of a log line, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where the server's log lines go. */
export interface Logger {
  /** Logs one event with extra fields. Never throws. */
  log(level: LogLevel, event: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** Receives each line, without its trailing newline. Default: `process.stdout`. */
  readonly write?: (line: string) => void;
  /** Lines below this level are dropped. Default `info`. */
  readonly level?: LogLevel;
  /** The clock for `ts`. Default `Date.now`. */
  readonly now?: () => number;
}

const RESERVED = new Set(["ts", "level", "event"]);

/** Makes a value JSON-safe: errors become their message, bigints strings. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  return value;
}

/**
 * Creates a logger that writes one JSON line per event: `ts` (ISO 8601), `level`, `event`,
 * then the fields in their order (fields named `ts`, `level` or `event` are dropped).
 *
 * @example
 * createJsonLogger().log("info", "listening", { port: 8080 });
 * // {"ts":"2025-01-01T00:00:00.000Z","level":"info","event":"listening","port":8080}
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const min = LEVELS[options.level ?? "info"];
  const now = options.now ?? Date.now;
  return {
    log(level, event, fields = {}) {
      if (LEVELS[level] < min) return;
      try {
        const record: Record<string, unknown> = {
          ts: new Date(now()).toISOString(),
          level,
          event,
        };
        for (const [k, v] of Object.entries(fields)) if (!RESERVED.has(k)) record[k] = v;
        let line: string;
        try {
          line = JSON.stringify(record, replacer);
        } catch {
          // A circular field: keep the line, lose the fields.
          line = JSON.stringify({ ts: record.ts, level, event, unserializable: true });
        }
        write(line);
      } catch {
        // Logging must never take the server down (a closed stdout, say).
      }
    },
  };
}

/** A logger that drops everything (the default of `startServer`, for tests). */
export const silentLogger: Logger = { log() {} };

/** The fields describing a caught exception: `error` (its message) and `stack`. */
export function errorFields(err: unknown): { error: string; stack?: string } {
  if (err instanceof Error) {
    return err.stack === undefined
      ? { error: err.message }
      : { error: err.message, stack: err.stack };
  }
  return { error: String(err) };
}

/**
 * Logs the protocol core's events. An event may carry its own `level`; `info` otherwise.
 */
export function logEngineEvents(logger: Logger, events: readonly LogEvent[]): void {
  for (const e of events) {
    const { event, level, ...fields } = e as LogEvent & { level?: unknown };
    const lvl: LogLevel =
      typeof level === "string" && Object.hasOwn(LEVELS, level) ? (level as LogLevel) : "info";
    logger.log(lvl, String(event), fields);
  }
}
