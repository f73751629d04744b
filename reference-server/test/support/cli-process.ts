/**
 * Runs the compiled `confab-server` CLI as a child process and parses its JSON log lines,
 * for tests that need a real process (signals, kill -9, restarts).
 */
import { spawn } from "node:child_process";

/** One JSON log line of the CLI. */
export type LogLine = Record<string, unknown> & { event: string; level: string; ts: string };

/** A running CLI process, its parsed stdout lines, and its exit. */
export function runCli(
  cli: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
) {
  const env = options.env ?? {};
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const lines: LogLine[] = [];
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    stdout += chunk;
    const parts = stdout.split("\n");
    stdout = parts.pop() ?? "";
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as LogLine);
      } catch {
        lines.push({ event: "(text)", level: "", ts: "", text: p });
      }
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    stderr: () => stderr,
    /** Resolves with the first log line of this event. */
    waitFor(event: string): Promise<LogLine> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => l.event === event);
          if (hit) resolve(hit);
          else if (child.exitCode !== null) reject(new Error(`exited before ${event}: ${stderr}`));
          else waiters.push(check);
        };
        exited.then(check);
        check();
      });
    },
  };
}
