// A view of one plan's data (the week plan, its shopping list): drawn from the tool result the
// host pushed, then read afresh with a view-only reading tool, so a reload shows changes since.

import type { CallToolResult } from "@modelcontextprotocol/client";
import { h } from "./dom";
import { outcomeOf, type Data, type Failure } from "./host";
import { str, type ViewContext } from "./view";

export interface Reading<T> {
  /** The reading tool, called with `{plan_id}` ("get_meal_plan", "get_shopping_list"). */
  tool: string;
  /** The data of a tool result as the view draws it; null when it is not that (yet). */
  parse(data: Data): T | null;
  /** Keep and draw what was read or received. */
  draw(value: T): void;
  /** What the view shows, for its messages: "plan", "shopping list". */
  noun: string;
  /** A shorter name, where the view's heading has said which ("list"); `noun` if not given. */
  shortNoun?: string;
  /** Say the result's summary while its plan is read (a result that names only the plan). */
  sayWhileLoading?: boolean;
}

export interface Live {
  /** The plan the view shows: from the last result that named one. */
  planId(): string | undefined;
  /** Read the plan's data as it is now and draw it. */
  refresh(): Promise<void>;
  /** Show a tool result the host pushed, then refresh. */
  result(toolResult: CallToolResult): Promise<void>;
  /** Run a change the view makes (a tick, a swap): a read that overlaps it is read again,
   * so an answer sent before the change never draws over it. */
  changing<R>(work: () => Promise<R>): Promise<R>;
}

const MAX_READS = 5; // a read overlapped by changes this many times in a row draws anyway

export function live<T>({ host, shell }: ViewContext, reading: Reading<T>): Live {
  let drawn = false;
  let planId: string | undefined;
  let edits = 0; // moves when a change starts and when it ends
  const unreadable = `The ${reading.noun} could not be read.`;
  const stale = `The ${reading.shortNoun ?? reading.noun} could not be refreshed; it shows what it was when made.`;
  const nothing = `No ${reading.noun} to show.`;

  function draw(value: T): void {
    drawn = true;
    reading.draw(value);
  }

  function placeholder(text: string): void {
    shell.show(h("p", { class: "placeholder" }, text));
  }

  async function changing<R>(work: () => Promise<R>): Promise<R> {
    edits++;
    try {
      return await work();
    } finally {
      edits++;
    }
  }

  async function read(id: string): ReturnType<typeof host.call> {
    for (let reads = 1; ; reads++) {
      const before = edits;
      const outcome = await host.call(reading.tool, { plan_id: id });
      if (edits === before || reads >= MAX_READS) return outcome;
    }
  }

  async function refresh(): Promise<void> {
    if (!planId) return;
    const outcome = await read(planId);
    const fresh = outcome.ok ? reading.parse(outcome.data) : null;
    if (fresh) {
      draw(fresh);
      return;
    }
    const failure: Failure = outcome.ok ? { ok: false, error: unreadable } : outcome;
    if (!drawn) {
      shell.alert(failure);
      placeholder(nothing);
    } else if (failure.transport) {
      shell.status(stale);
    } else {
      shell.alert(failure);
    }
  }

  async function result(toolResult: CallToolResult): Promise<void> {
    const outcome = outcomeOf(toolResult);
    if (!outcome.ok) {
      shell.alert(outcome);
      if (!drawn) placeholder(nothing);
      shell.ready();
      return;
    }
    shell.alert(null);
    const data = outcome.data;
    planId = str(data.plan_id) ?? planId;
    const received = reading.parse(data);
    if (received) {
      draw(received);
    } else if (planId) {
      shell.placeholder("Loading…");
      if (reading.sayWhileLoading && outcome.summary) shell.status(outcome.summary);
    } else {
      if (!drawn) placeholder(outcome.summary || nothing);
      shell.ready();
      return;
    }
    await refresh();
    shell.ready();
  }

  return { planId: () => planId, refresh, result, changing };
}
