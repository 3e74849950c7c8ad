// One bundle, three views: body[data-view] names the one to draw into #app.

import "./no-eval"; // first: before any module of the SDK builds a schema
import { App } from "@modelcontextprotocol/ext-apps";
import { h } from "./dom";
import { Host } from "./host";
import { dinnerIdeas } from "./ideas";
import { shoppingList } from "./shopping";
import { applyHostContext, followSystemTheme } from "./theme";
import { createShell } from "./ui";
import type { View, ViewContext } from "./view";
import { weekPlan } from "./week";

const VIEWS: Record<string, (context: ViewContext) => View> = {
  "week-plan": weekPlan,
  "shopping-list": shoppingList,
  "dinner-ideas": dinnerIdeas,
};

function start(): void {
  document.body.dataset.state = "waiting";
  followSystemTheme();
  const root = document.getElementById("app") ?? document.body.appendChild(h("main", { id: "app" }));
  const name = document.body.dataset.view ?? "";
  const make = VIEWS[name];
  if (!make) {
    root.replaceChildren(h("p", { role: "alert" }, `There is no view called “${name}”.`));
    return;
  }

  const app = new App({ name: "pantry-views", version: "1.0.0" }, {}, { autoResize: true });
  const host = new Host(app);
  const shell = createShell(root, "");
  const view = make({ host, shell });
  shell.setTitle(view.title);
  shell.placeholder(view.waiting);

  // Handlers first, then connect: the host may send these right after the handshake.
  const loading = (): void => shell.placeholder("Loading…");
  app.addEventListener("toolinputpartial", loading);
  app.addEventListener("toolinput", loading);
  app.addEventListener("toolresult", (result) => {
    view.result(result).catch(() => {
      shell.alert({ ok: false, error: "This result could not be shown." });
      shell.ready();
    });
  });
  app.addEventListener("toolcancelled", () => {
    if (!shell.isReady) shell.placeholder("The request was cancelled.");
  });
  app.addEventListener("hostcontextchanged", () => applyHostContext(app.getHostContext()));
  app.onteardown = async () => ({});

  if (window.parent === window) {
    shell.placeholder("This view opens inside a chat app that supports MCP Apps.");
    return;
  }
  app
    .connect()
    .then(() => applyHostContext(app.getHostContext()))
    .catch(() => shell.placeholder("The chat app did not answer; this view cannot show anything yet."));
}

// A promise nobody awaited must not end up as an uncaught error in the host's console.
window.addEventListener("unhandledrejection", (event) => event.preventDefault());

start();
