// week-plan: one card per day; a recipe opens its detail, "Swap" changes a day's dinner.

import { byFocusKey, h, keepFocus, uid } from "./dom";
import { capitalize, minutesText, percent, shortDate, spanText, weekdayOf } from "./format";
import { PLAIN_FAILURE, type Data, type Failure } from "./host";
import { live } from "./live";
import { renderMarkdown } from "./markdown";
import { alertBox, coverageMeter } from "./ui";
import { nonNull, num, records, safely, str, strings, type View, type ViewContext } from "./view";

interface Meal {
  slot: string;
  recipeId: string;
  title: string;
  minutes: number | undefined;
  coverage: number | undefined;
}

interface Day {
  date: string;
  weekday: string;
  meals: Meal[];
}

interface Plan {
  id: string;
  name: string | undefined;
  start: string | undefined;
  end: string | undefined;
  days: Day[];
}

interface Option {
  id: string;
  title: string;
  minutes: number | undefined;
  coverage: number | undefined;
  missing: string[];
}

interface Panel {
  el: HTMLElement;
  card: HTMLElement;
  opener: HTMLElement;
  openerKey: string;
}

function toMeal(row: Data): Meal | null {
  const recipeId = str(row.recipe_id);
  const title = str(row.title);
  if (!recipeId || !title) return null;
  return {
    slot: str(row.slot) ?? "dinner",
    recipeId,
    title,
    minutes: num(row.total_minutes),
    coverage: num(row.pantry_coverage),
  };
}

/** A plan from get_meal_plan (days with meals) or plan_week_meals (one recipe a day). */
function toPlan(data: Data): Plan | null {
  const id = str(data.plan_id);
  if (!id || !Array.isArray(data.days)) return null;
  const days = records(data.days).flatMap((row): Day[] => {
    const date = str(row.date);
    if (!date) return [];
    const meals = Array.isArray(row.meals)
      ? records(row.meals).map(toMeal).filter(nonNull)
      : [toMeal(row)].filter(nonNull);
    return [{ date, weekday: str(row.weekday) || weekdayOf(date), meals }];
  });
  return { id, name: str(data.name), start: str(data.start_date), end: str(data.end_date), days };
}

function toOption(row: Data): Option | null {
  const id = str(row.recipe_id) ?? str(row.id);
  const title = str(row.title);
  if (!id || !title) return null;
  return {
    id,
    title,
    minutes: num(row.total_minutes),
    coverage: num(row.pantry_coverage),
    missing: strings(row.missing),
  };
}

export function weekPlan({ host, shell }: ViewContext): View {
  let plan: Plan | null = null;
  let panel: Panel | null = null;
  const daysList = h("ol", { class: "cards days" });
  /** Drawn cards by date: a day that did not change keeps its elements across a refresh. */
  const drawn = new Map<string, { signature: string; card: HTMLElement }>();

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && panel) {
      event.preventDefault();
      closePanel(true);
    }
  });

  function closePanel(returnFocus: boolean): void {
    const open = panel;
    if (!open) return;
    panel = null;
    open.el.remove();
    open.opener.setAttribute("aria-expanded", "false");
    if (returnFocus) (open.opener.isConnected ? open.opener : byFocusKey(daysList, open.openerKey))?.focus();
  }

  function mount(card: HTMLElement, el: HTMLElement, opener: HTMLElement): void {
    closePanel(false);
    card.append(el);
    opener.setAttribute("aria-expanded", "true");
    panel = { el, card, opener, openerKey: opener.dataset.focus ?? "" };
  }

  /** Keep what was read or received, and draw it. */
  function render(current: Plan): void {
    plan = current;
    const focusKey = panel && panel.el.contains(document.activeElement) ? panel.openerKey : undefined;
    closePanel(false);
    // The dates say which week; Pantry's plan name ("7-day plan from ...") adds little.
    shell.setTitle(`Meals, ${spanText(current.start, current.end, host.locale())}`, current.name);
    keepFocus(daysList, () => {
      daysList.replaceChildren(...current.days.map(cardFor));
      const dates = new Set(current.days.map((day) => day.date));
      for (const date of [...drawn.keys()]) if (!dates.has(date)) drawn.delete(date);
      if (!daysList.isConnected) {
        shell.show(current.days.length ? daysList : h("p", { class: "placeholder" }, "This plan has no days."));
      }
    });
    if (focusKey) byFocusKey(daysList, focusKey)?.focus();
  }

  function cardFor(day: Day): HTMLElement {
    const signature = JSON.stringify(day);
    const known = drawn.get(day.date);
    if (known && known.signature === signature) return known.card;
    const card = dayCard(day);
    drawn.set(day.date, { signature, card });
    return card;
  }

  function dayCard(day: Day): HTMLElement {
    const card = h("li", { class: "card day", "data-testid": "day", "data-date": day.date });
    const showSlots = day.meals.length > 1 || day.meals.some((meal) => meal.slot !== "dinner");
    const swap = h(
      "button",
      {
        type: "button",
        class: "btn secondary",
        "data-testid": "swap",
        "data-focus": `swap:${day.date}`,
        "aria-expanded": "false",
        "aria-label": `Swap ${day.weekday}'s dinner`,
      },
      "Swap",
    );
    swap.addEventListener("click", () => openSwap(day, card, swap));
    card.append(
      h(
        "div",
        { class: "day-top" },
        h(
          "h2",
          { class: "day-head" },
          h("span", { class: "weekday" }, day.weekday),
          " ",
          h("span", { class: "date" }, shortDate(day.date, host.locale())),
        ),
        swap,
      ),
      day.meals.length
        ? h("ul", { class: "meals" }, day.meals.map((meal, index) => mealItem(day, meal, index, showSlots, card)))
        : h("p", { class: "empty" }, "Nothing planned yet."),
    );
    return card;
  }

  function mealItem(day: Day, meal: Meal, index: number, showSlot: boolean, card: HTMLElement): HTMLElement {
    const title = h(
      "button",
      {
        type: "button",
        class: "link",
        "data-testid": "meal-title",
        "data-recipe-id": meal.recipeId,
        "data-focus": `meal:${day.date}:${index}`,
        "aria-haspopup": "dialog",
        "aria-expanded": "false",
      },
      meal.title,
    );
    title.addEventListener("click", () => openDetail(meal, card, title));
    const minutes = minutesText(meal.minutes);
    return h(
      "li",
      { class: "meal" },
      showSlot ? h("p", { class: "slot" }, capitalize(meal.slot)) : null,
      h("h3", { class: "meal-title" }, title),
      h(
        "div",
        { class: "facts" },
        minutes ? h("span", { class: "minutes" }, minutes) : null,
        meal.coverage !== undefined ? coverageMeter(meal.coverage) : null,
      ),
    );
  }

  function openDetail(meal: Meal, card: HTMLElement, opener: HTMLElement): void {
    if (panel?.opener === opener) {
      closePanel(true);
      return;
    }
    const titleId = uid("recipe");
    const body = h("div", { class: "recipe", "aria-busy": "true" }, h("p", { class: "placeholder" }, "Loading the recipe…"));
    const close = h(
      "button",
      { type: "button", class: "btn secondary", "data-testid": "close", "aria-label": "Close recipe" },
      "Close",
    );
    close.addEventListener("click", () => closePanel(true));
    const el = h(
      "section",
      {
        class: "panel",
        role: "dialog",
        "aria-modal": "false",
        "aria-labelledby": titleId,
        "data-testid": "recipe-detail",
        tabindex: -1,
      },
      h("div", { class: "panel-head" }, h("h3", { id: titleId }, meal.title), close),
      body,
    );
    mount(card, el, opener);
    el.focus();
    safely(
      async () => {
        const outcome = await host.readText(`recipe://${encodeURIComponent(meal.recipeId)}`);
        if (panel?.el !== el) return;
        body.removeAttribute("aria-busy");
        body.replaceChildren(
          outcome.ok ? renderMarkdown(outcome.data, { topLevel: 3, skipTitle: meal.title }) : alertBox(outcome),
        );
      },
      () => body.replaceChildren(alertBox({ ok: false, error: PLAIN_FAILURE })),
    );
  }

  function openSwap(day: Day, card: HTMLElement, opener: HTMLElement): void {
    const current = plan;
    if (!current) return;
    if (panel?.opener === opener) {
      closePanel(true);
      return;
    }
    const inPlan = new Set(current.days.flatMap((d) => d.meals.map((meal) => meal.recipeId)));
    const dinners = new Set(day.meals.filter((meal) => meal.slot === "dinner").map((meal) => meal.recipeId));
    const headingId = uid("swap");
    const inputId = uid("search");
    const labelId = uid("options");
    const input = h("input", {
      id: inputId,
      type: "search",
      class: "input",
      name: "query",
      autocomplete: "off",
      maxlength: 200,
      placeholder: "e.g. lentils",
      "data-testid": "swap-search",
    });
    // No <form>: a sandboxed frame without allow-forms blocks (and logs) every submission.
    const go = h("button", { type: "button", class: "btn secondary" }, "Search");
    const form = h(
      "div",
      { class: "search", role: "search" },
      h("label", { for: inputId }, "Search recipes"),
      h("div", { class: "search-row" }, input, go),
    );
    const label = h("p", { class: "options-label", id: labelId }, "Ideas from your pantry");
    const note = h("p", { class: "placeholder", "aria-live": "polite" }, "Loading ideas…");
    const options = h("ul", { class: "options", "aria-labelledby": labelId });
    const errors = h("div", { class: "panel-errors" });
    const cancel = h("button", { type: "button", class: "btn secondary" }, "Cancel");
    cancel.addEventListener("click", () => closePanel(true));
    const el = h(
      "section",
      { class: "panel", "data-testid": "swap-panel", "aria-labelledby": headingId },
      h("h3", { id: headingId }, `Swap ${day.weekday}'s dinner`),
      form,
      label,
      note,
      options,
      errors,
      h("div", { class: "actions" }, cancel),
    );
    mount(card, el, opener);
    input.focus();

    let ideas: Option[] | null = null;
    let searched = ""; // the query whose results are shown (or on their way)
    let seq = 0;
    let busy = false;
    let timer: number | undefined;
    const isOpen = (): boolean => panel?.el === el;
    const failed = (failure: Failure): void => {
      note.textContent = "";
      errors.replaceChildren(alertBox(failure));
    };
    const oops = (): void => failed({ ok: false, error: PLAIN_FAILURE });

    function fill(list: Option[], empty: string): void {
      note.textContent = list.length ? "" : empty;
      options.replaceChildren(...list.map(optionItem));
    }

    function optionItem(option: Option): HTMLElement {
      const facts = [
        minutesText(option.minutes),
        option.coverage !== undefined ? `${percent(option.coverage)}% in pantry` : null,
        option.missing.length ? `missing ${option.missing.join(", ")}` : null,
      ]
        .filter(nonNull)
        .join(" · ");
      const button = h(
        "button",
        { type: "button", class: "option", "data-testid": "swap-option", "data-recipe-id": option.id },
        h("span", { class: "option-title" }, option.title),
        facts ? h("span", { class: "option-meta" }, facts) : null,
      );
      button.addEventListener("click", () => safely(() => pick(option), oops));
      return h("li", null, button);
    }

    async function showIdeas(): Promise<void> {
      const mine = ++seq;
      searched = "";
      label.textContent = "Ideas from your pantry";
      errors.replaceChildren();
      if (ideas === null) {
        note.textContent = "Loading ideas…";
        options.replaceChildren();
        const outcome = await host.call("whats_for_dinner", { count: 8 });
        if (mine !== seq || !isOpen()) return;
        if (!outcome.ok) {
          failed(outcome);
          return;
        }
        ideas = records(outcome.data.suggestions)
          .map(toOption)
          .filter(nonNull)
          .filter((option) => !inPlan.has(option.id));
      }
      fill(ideas, "No other ideas right now. Search for a recipe instead.");
    }

    async function search(text: string): Promise<void> {
      const query = text.trim().slice(0, 200);
      if (!query) {
        searched = "";
        return showIdeas();
      }
      if (query === searched) return;
      searched = query;
      const mine = ++seq;
      label.textContent = `Recipes matching “${query}”`;
      note.textContent = "Searching…";
      errors.replaceChildren();
      options.replaceChildren();
      const outcome = await host.call("search_recipes", { query });
      if (mine !== seq || !isOpen()) return;
      if (!outcome.ok) {
        searched = "";
        failed(outcome);
        return;
      }
      const found = records(outcome.data.results)
        .map(toOption)
        .filter(nonNull)
        .filter((option) => !dinners.has(option.id));
      fill(found, `No recipes match “${query}”.`);
    }

    async function pick(option: Option): Promise<void> {
      const target = plan;
      if (busy || !target) return;
      busy = true;
      el.setAttribute("aria-busy", "true");
      errors.replaceChildren();
      note.textContent = `Putting ${option.title} on ${day.weekday}…`;
      const outcome = await changing(() =>
        host.call("add_recipe_to_plan", {
          recipe_id: option.id,
          date: day.date,
          plan_id: target.id,
          replace: true,
        }),
      );
      busy = false;
      el.removeAttribute("aria-busy");
      if (!outcome.ok) {
        if (isOpen()) failed(outcome);
        else shell.alert(outcome);
        return;
      }
      shell.alert(null);
      shell.status(`${day.weekday}'s dinner is now ${option.title}.`);
      const hadFocus = isOpen();
      closePanel(false);
      await refresh();
      if (hadFocus) byFocusKey(daysList, `swap:${day.date}`)?.focus();
    }

    input.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => safely(() => search(input.value), oops), 350);
    });
    const searchNow = (): void => {
      window.clearTimeout(timer);
      safely(() => search(input.value), oops);
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        searchNow();
      }
    });
    go.addEventListener("click", searchNow);
    safely(showIdeas, oops);
  }

  const { refresh, result, changing } = live(
    { host, shell },
    {
      tool: "get_meal_plan",
      parse: toPlan,
      draw: render,
      noun: "plan",
      sayWhileLoading: true,
    },
  );

  return { title: "Week plan", waiting: "Waiting for the meal plan…", result };
}
