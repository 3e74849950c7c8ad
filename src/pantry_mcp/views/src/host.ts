// Everything the views ask of the host goes through here: server tools, resources and
// chat messages, each answered as a plain Outcome the views can render without try/catch.

import type { App } from "@modelcontextprotocol/ext-apps";
import type { CallToolResult } from "@modelcontextprotocol/client";
import { isRecord } from "./view";

export type Data = Record<string, unknown>;

export interface Failure {
  ok: false;
  /** What went wrong, for the person. */
  error: string;
  /** What to do about it (from the server's error result), if anything. */
  hint?: string;
  /** The request never got an answer from the server (host or transport failure). */
  transport?: boolean;
}

export interface Success<T> {
  ok: true;
  data: T;
  /** The result's one-line summary (its text block). */
  summary: string;
}

export type Outcome<T = Data> = Success<T> | Failure;

export const PLAIN_FAILURE = "Something went wrong on the way to Pantry. Please try again.";

function firstText(result: CallToolResult): string {
  for (const block of result.content ?? []) {
    if (block.type === "text" && typeof block.text === "string") return block.text;
  }
  return "";
}

function parseJson(text: string): unknown {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) return undefined;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return undefined;
  }
}

/** A tool result as the views see it: its data, or the server's error and hint. */
export function outcomeOf(result: CallToolResult): Outcome {
  const text = firstText(result);
  if (result.isError) {
    const body = parseJson(text);
    if (isRecord(body) && typeof body.error === "string") {
      return { ok: false, error: body.error, ...(typeof body.hint === "string" ? { hint: body.hint } : {}) };
    }
    return { ok: false, error: text.trim() || "Pantry could not do that." };
  }
  const structured = result.structuredContent;
  const data = isRecord(structured) ? structured : parseJson(text);
  if (!isRecord(data)) return { ok: true, data: {}, summary: text };
  const summary = typeof data.summary === "string" ? data.summary : text;
  return { ok: true, data, summary };
}

export class Host {
  constructor(private readonly app: App) {}

  /** Call one of the server's tools through the host. Never throws. */
  async call(name: string, args: Data): Promise<Outcome> {
    try {
      const result = await this.app.callServerTool({ name, arguments: args });
      return outcomeOf(result);
    } catch {
      return { ok: false, error: PLAIN_FAILURE, transport: true };
    }
  }

  /** The text of a server resource (resources/read through the host). Never throws. */
  async readText(uri: string): Promise<Outcome<string>> {
    try {
      const result = await this.app.readServerResource({ uri });
      for (const content of result.contents ?? []) {
        if ("text" in content && typeof content.text === "string") {
          return { ok: true, data: content.text, summary: "" };
        }
      }
      return { ok: false, error: "That recipe has no text to show." };
    } catch {
      return { ok: false, error: "The recipe could not be opened just now. Please try again.", transport: true };
    }
  }

  /** Put a user message into the chat (ui/message). Never throws. */
  async say(text: string): Promise<Outcome<null>> {
    try {
      const result = await this.app.sendMessage({ role: "user", content: [{ type: "text", text }] });
      if (result.isError) return { ok: false, error: "The chat did not take the message." };
      return { ok: true, data: null, summary: "" };
    } catch {
      return { ok: false, error: "The message could not reach the chat. Please try again.", transport: true };
    }
  }

  timeZone(): string | undefined {
    return this.app.getHostContext()?.timeZone;
  }

  locale(): string | undefined {
    return this.app.getHostContext()?.locale;
  }
}
