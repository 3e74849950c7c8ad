// The frame every view shares (heading, status line, alerts, content) and shared pieces.

import { h } from "./dom";
import { percent } from "./format";
import type { Failure } from "./host";

export interface Shell {
  /** Replace the view's content. */
  show(...nodes: Node[]): void;
  setTitle(title: string, subtitle?: string): void;
  /** A short line for the person (and the role=status live region). */
  status(text: string): void;
  /** Show an error at the top (role=alert); null clears it. */
  alert(failure: Failure | null): void;
  /** A placeholder while there is nothing to show yet ("Waiting for …", "Loading…"). */
  placeholder(text: string): void;
  /** The first data is on screen: body[data-state=ready]. */
  ready(): void;
  readonly isReady: boolean;
  readonly content: HTMLElement;
}

export function alertBox(failure: Failure): HTMLElement {
  return h(
    "div",
    { class: "alert", role: "alert" },
    h("p", { class: "alert-error" }, failure.error),
    failure.hint ? h("p", { class: "alert-hint" }, failure.hint) : null,
  );
}

export function createShell(root: HTMLElement, title: string): Shell {
  const heading = h("h1", null, title);
  const subtitle = h("p", { class: "subtitle" });
  subtitle.hidden = true;
  const statusLine = h("p", { class: "status", role: "status", "aria-live": "polite", "data-testid": "status" });
  const alerts = h("div", { class: "alerts" });
  const content = h("div", { class: "content" });
  root.replaceChildren(h("header", { class: "view-header" }, heading, subtitle), statusLine, alerts, content);
  let isReady = false;

  return {
    content,
    get isReady() {
      return isReady;
    },
    show(...nodes) {
      content.replaceChildren(...nodes);
    },
    setTitle(text, sub) {
      heading.textContent = text;
      subtitle.textContent = sub ?? "";
      subtitle.hidden = !sub;
    },
    status(text) {
      statusLine.textContent = text;
    },
    alert(failure) {
      alerts.replaceChildren(...(failure ? [alertBox(failure)] : []));
    },
    placeholder(text) {
      if (!isReady) content.replaceChildren(h("p", { class: "placeholder" }, text));
    },
    ready() {
      isReady = true;
      document.body.dataset.state = "ready";
    },
  };
}

/** A bar with role=meter for a 0..1 pantry coverage, and the percentage as text. */
export function coverageMeter(coverage: number | null | undefined): HTMLElement {
  const value = percent(coverage);
  const fill = h("span", { class: "meter-fill" });
  fill.style.width = `${value}%`;
  const level = value >= 67 ? "high" : value >= 34 ? "mid" : "low";
  return h(
    "div",
    { class: "coverage" },
    h(
      "div",
      {
        class: "meter",
        role: "meter",
        "aria-label": "Pantry coverage",
        "aria-valuemin": 0,
        "aria-valuemax": 100,
        "aria-valuenow": value,
        "aria-valuetext": `${value}% in your pantry`,
        "data-level": level,
      },
      fill,
    ),
    h("span", { class: "coverage-text", "aria-hidden": "true" }, `${value}% in pantry`),
  );
}
