// dinner-ideas: a card per suggestion, with "Put on tonight's plan" and "Ask in the chat".

import type { CallToolResult } from "@modelcontextprotocol/client";
import { h, uid } from "./dom";
import { localToday, minutesText } from "./format";
import { PLAIN_FAILURE, outcomeOf, type Data, type Failure } from "./host";
import { alertBox, coverageMeter } from "./ui";
import { nonNull, num, records, safely, str, strings, type View, type ViewContext } from "./view";

interface Idea {
  id: string;
  title: string;
  minutes: number | undefined;
  coverage: number | undefined;
  missing: string[];
}

function toIdea(row: Data): Idea | null {
  const id = str(row.recipe_id);
  const title = str(row.title);
  if (!id || !title) return null;
  return { id, title, minutes: num(row.total_minutes), coverage: num(row.pantry_coverage), missing: strings(row.missing) };
}

export function dinnerIdeas({ host, shell }: ViewContext): View {
  function card(idea: Idea): HTMLElement {
    const titleId = uid("idea");
    const message = h("div", { class: "card-message" });
    const add = h(
      "button",
      { type: "button", class: "btn primary", "data-testid": "add-tonight", "aria-describedby": titleId },
      "Put on tonight's plan",
    );
    const ask = h(
      "button",
      { type: "button", class: "btn secondary", "data-testid": "ask-chat", "aria-describedby": titleId },
      "Ask in the chat",
    );
    const minutes = minutesText(idea.minutes);
    let busy = false;

    const note = (text: string): void => {
      message.replaceChildren(h("p", { class: "note" }, text));
    };
    const fail = (failure: Failure): void => {
      message.replaceChildren(alertBox(failure));
    };
    const run = (button: HTMLButtonElement, task: () => Promise<void>): void => {
      if (busy) return;
      busy = true;
      button.setAttribute("aria-disabled", "true");
      message.replaceChildren();
      safely(
        async () => {
          try {
            await task();
          } finally {
            busy = false;
            button.removeAttribute("aria-disabled");
          }
        },
        () => fail({ ok: false, error: PLAIN_FAILURE }),
      );
    };

    add.addEventListener("click", () =>
      run(add, async () => {
        shell.status(`Putting ${idea.title} on tonight's plan…`);
        const outcome = await host.call("add_recipe_to_plan", {
          recipe_id: idea.id,
          date: localToday(host.timeZone()),
          replace: false,
        });
        if (!outcome.ok) {
          shell.status(`${idea.title} is not on tonight's plan.`);
          fail(outcome);
          return;
        }
        const summary = outcome.summary || `${idea.title} is on tonight's plan.`;
        shell.status(summary);
        note(outcome.data.already_planned === true ? "Already on tonight's plan." : "Added to tonight's plan.");
      }),
    );
    ask.addEventListener("click", () =>
      run(ask, async () => {
        const text = `Let's cook ${idea.title} tonight.`;
        const outcome = await host.say(text);
        if (!outcome.ok) {
          fail(outcome);
          return;
        }
        shell.status(`Sent to the chat: “${text}”`);
        note("Sent to the chat.");
      }),
    );

    return h(
      "li",
      { class: "card idea", "data-testid": "idea", "data-recipe-id": idea.id },
      h("h2", { id: titleId }, idea.title),
      h(
        "div",
        { class: "facts" },
        minutes ? h("span", { class: "minutes" }, minutes) : null,
        coverageMeter(idea.coverage),
      ),
      h(
        "p",
        { class: "missing" },
        idea.missing.length ? `Missing: ${idea.missing.join(", ")}` : "Nothing missing: the pantry has it all.",
      ),
      h("div", { class: "actions" }, add, ask),
      message,
    );
  }

  async function result(toolResult: CallToolResult): Promise<void> {
    const outcome = outcomeOf(toolResult);
    if (!outcome.ok) {
      shell.alert(outcome);
      shell.show(h("p", { class: "placeholder" }, "No ideas to show."));
      shell.ready();
      return;
    }
    shell.alert(null);
    const ideas = records(outcome.data.suggestions).map(toIdea).filter(nonNull);
    shell.setTitle("Tonight's ideas");
    shell.show(
      ideas.length
        ? h("ul", { class: "cards ideas" }, ideas.map(card))
        : h("p", { class: "placeholder" }, outcome.summary || "No ideas right now."),
    );
    shell.ready();
  }

  return { title: "Tonight's ideas", waiting: "Waiting for dinner ideas…", result };
}
