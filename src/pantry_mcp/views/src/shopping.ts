// shopping-list: items by aisle, each a checkbox ticked at once (and undone on error).

import { h, keepFocus, uid } from "./dom";
import { amountsText, capitalize, spanText } from "./format";
import { PLAIN_FAILURE, type Data, type Failure } from "./host";
import { live } from "./live";
import { alertBox } from "./ui";
import { nonNull, records, safely, str, strings, type View, type ViewContext } from "./view";

interface Item {
  key: string | undefined;
  name: string;
  amounts: string;
  inPantry: boolean;
  checked: boolean;
}

interface Aisle {
  name: string;
  items: Item[];
}

interface List {
  planId: string;
  start: string | undefined;
  end: string | undefined;
  aisles: Aisle[];
  atHome: string[];
}

function toItem(row: Data): Item | null {
  const name = str(row.name);
  if (!name) return null;
  const amounts = records(row.amounts).map((amount) => ({
    quantity: typeof amount.quantity === "number" ? amount.quantity : null,
    unit: str(amount.unit) ?? null,
  }));
  return {
    key: str(row.key),
    name,
    amounts: amountsText(amounts, row.to_taste === true),
    inPantry: row.in_pantry === true,
    checked: row.checked === true,
  };
}

function toList(data: Data): List | null {
  const planId = str(data.plan_id);
  if (!planId || !Array.isArray(data.aisles)) return null;
  const aisles = records(data.aisles)
    .map((row) => ({ name: str(row.aisle) ?? "Other", items: records(row.items).map(toItem).filter(nonNull) }))
    .filter((aisle) => aisle.items.length > 0);
  return {
    planId,
    start: str(data.start_date),
    end: str(data.end_date),
    aisles,
    atHome: strings(data.covered_by_pantry),
  };
}

export function shoppingList({ host, shell }: ViewContext): View {
  let list: List | null = null;
  /** Ticks sent but not yet answered, by item key: they win over a list read meanwhile. */
  const pending = new Map<string, { checked: boolean; seq: number }>();
  let seq = 0;
  const progress = h("p", { class: "progress", "data-testid": "progress" });
  const body = h("div", { class: "shopping" });

  function items(): Item[] {
    return list ? list.aisles.flatMap((aisle) => aisle.items) : [];
  }

  function progressText(): string {
    const all = items();
    const ticked = all.filter((item) => item.checked).length;
    return `${ticked} of ${all.length} ticked`;
  }

  /** Keep what was read or received, and draw it. */
  function render(current: List): void {
    list = current;
    for (const item of items()) {
      const waiting = item.key ? pending.get(item.key) : undefined;
      if (waiting) item.checked = waiting.checked;
    }
    shell.setTitle("Shopping list", spanText(current.start, current.end, host.locale()));
    progress.textContent = progressText();
    keepFocus(body, () => {
      const sections: HTMLElement[] = current.aisles.map(aisleSection);
      if (!current.aisles.length) {
        sections.push(h("p", { class: "placeholder" }, "Nothing to buy."));
      }
      if (current.atHome.length) sections.push(atHomeSection(current.atHome));
      // Said once, not under every item the pantry partly covers.
      const partly = items().some((item) => item.inPantry);
      const note = partly
        ? h("p", { class: "subtitle" }, "Amounts are what is left to buy after your pantry.")
        : null;
      body.replaceChildren(...[progress, note, ...sections].filter((e): e is HTMLElement => e !== null));
      if (!body.isConnected) shell.show(body);
    });
  }

  function aisleSection(aisle: Aisle): HTMLElement {
    const headingId = uid("aisle");
    return h(
      "section",
      { class: "card aisle", "data-testid": "aisle", "aria-labelledby": headingId },
      h("h2", { id: headingId }, capitalize(aisle.name)),
      h("ul", { class: "items" }, aisle.items.map(itemRow)),
    );
  }

  function itemRow(item: Item): HTMLElement {
    const inputId = uid("item");
    const box = h("input", {
      type: "checkbox",
      id: inputId,
      class: "check",
      "data-focus": item.key ? `item:${item.key}` : null,
      disabled: !item.key,
    });
    box.checked = item.checked;
    const row = h(
      "li",
      { class: item.checked ? "item done" : "item", "data-testid": "item", "data-key": item.key ?? null },
      box,
      h(
        "label",
        { for: inputId },
        h("span", { class: "item-name" }, item.name),
        item.amounts ? h("span", { class: "item-amount" }, item.amounts) : null,
        item.inPantry ? h("span", { class: "item-note" }, "some at home") : null,
      ),
    );
    box.addEventListener("change", () => {
      safely(
        () => tick(item, box, row),
        () => undo(item, row, { ok: false, error: PLAIN_FAILURE }),
      );
    });
    return row;
  }

  function atHomeSection(names: string[]): HTMLElement {
    const headingId = uid("home");
    return h(
      "section",
      { class: "card at-home", "data-testid": "at-home", "aria-labelledby": headingId },
      h("h2", { id: headingId }, "Already at home"),
      h("ul", { class: "plain" }, names.map((name) => h("li", null, name))),
    );
  }

  /** The row now drawn for an item (a refresh may have drawn it anew). */
  function rowOf(item: Item, fallback: HTMLElement): HTMLElement {
    if (!item.key) return fallback;
    for (const row of body.querySelectorAll<HTMLElement>("[data-testid=item]")) {
      if (row.dataset.key === item.key) return row;
    }
    return fallback;
  }

  function show(item: Item, row: HTMLElement, failure: Failure | null): void {
    const target = rowOf(item, row);
    const box = target.querySelector<HTMLInputElement>("input[type=checkbox]");
    if (box) box.checked = item.checked;
    target.classList.toggle("done", item.checked);
    target.querySelector(".alert")?.remove();
    if (failure) target.append(alertBox(failure));
    progress.textContent = progressText();
  }

  function undo(item: Item, row: HTMLElement, failure: Failure): void {
    const current = list?.aisles.flatMap((aisle) => aisle.items).find((other) => other.key === item.key) ?? item;
    current.checked = !current.checked;
    show(current, row, failure);
  }

  async function tick(item: Item, box: HTMLInputElement, row: HTMLElement): Promise<void> {
    const key = item.key;
    const target = planId();
    if (!key || !target) return;
    const checked = box.checked;
    const mine = ++seq;
    pending.set(key, { checked, seq: mine });
    item.checked = checked;
    show(item, row, null);
    const outcome = await changing(() =>
      host.call("check_shopping_item", { plan_id: target, item_key: key, checked }),
    );
    if (pending.get(key)?.seq !== mine) return; // a later tick of the same item decides
    pending.delete(key);
    const current = items().find((other) => other.key === key) ?? item;
    if (outcome.ok) {
      shell.status(
        checked
          ? `Ticked off ${current.name}. ${progressText()}.`
          : `${capitalize(current.name)} is back on the list. ${progressText()}.`,
      );
      return;
    }
    current.checked = !checked;
    show(current, row, outcome);
    shell.status(`${capitalize(current.name)} could not be ${checked ? "ticked off" : "put back"}.`);
  }

  const { planId, result, changing } = live(
    { host, shell },
    {
      tool: "get_shopping_list",
      parse: toList,
      draw: render,
      noun: "shopping list",
      shortNoun: "list",
    },
  );

  return { title: "Shopping list", waiting: "Waiting for the shopping list…", result };
}
