import type { CallToolResult } from "@modelcontextprotocol/client";
import type { Host } from "./host";
import type { Shell } from "./ui";

export interface ViewContext {
  host: Host;
  shell: Shell;
}

export interface View {
  /** The heading before any data. */
  title: string;
  /** "Waiting for …": shown until the host sends anything. */
  waiting: string;
  /** A tool result the host pushed (the one the view was opened for). Never rejects. */
  result(result: CallToolResult): Promise<void>;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Run an async task from an event handler; a surprise becomes a plain message, not an uncaught error. */
export function safely(task: () => Promise<void>, onError: () => void): void {
  task().catch(() => {
    try {
      onError();
    } catch {
      // nothing more to do
    }
  });
}

export function nonNull<T>(value: T | null | undefined): value is T {
  return value !== null && value !== undefined;
}
