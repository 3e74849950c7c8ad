// A tiny element builder. Text always goes in as text nodes: data never becomes markup.

export type Child = Node | string | null | undefined | false;
type Handler = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (typeof value === "function") {
        el.addEventListener(name.slice(2), value);
      } else if (name === "class") {
        el.className = String(value);
      } else {
        el.setAttribute(name, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

let counter = 0;

/** A document-unique id (for label/aria references). */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** The element carrying data-focus=key inside root, if any. */
export function byFocusKey(root: ParentNode, key: string | undefined): HTMLElement | null {
  if (!key) return null;
  for (const el of root.querySelectorAll<HTMLElement>("[data-focus]")) {
    if (el.dataset.focus === key) return el;
  }
  return null;
}

/** Remember which keyed control has focus, and give focus back to its successor. */
export function keepFocus(root: ParentNode, redraw: () => void): void {
  const active = document.activeElement;
  const key = active instanceof HTMLElement ? active.dataset.focus : undefined;
  redraw();
  if (key && !(document.activeElement instanceof HTMLElement && document.activeElement.dataset.focus === key)) {
    byFocusKey(root, key)?.focus();
  }
}
