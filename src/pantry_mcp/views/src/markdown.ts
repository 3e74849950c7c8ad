// A deliberately tiny Markdown renderer for recipe text: headings, bullet and numbered
// lists, paragraphs, **bold**, *emphasis* and `code`. It builds elements and text nodes
// only, so nothing in the text can ever become markup.

import { h } from "./dom";

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;
const INLINE = /(\*\*[^*]+\*\*|`[^`]+`|\*[^*\s](?:[^*]*[^*\s])?\*)/;

export function inline(text: string): Node[] {
  const nodes: Node[] = [];
  for (const part of text.split(INLINE)) {
    if (!part) continue;
    if (part.length > 4 && part.startsWith("**") && part.endsWith("**")) {
      nodes.push(h("strong", null, part.slice(2, -2)));
    } else if (part.length > 2 && part.startsWith("`") && part.endsWith("`")) {
      nodes.push(h("code", null, part.slice(1, -1)));
    } else if (part.length > 2 && part.startsWith("*") && part.endsWith("*")) {
      nodes.push(h("em", null, part.slice(1, -1)));
    } else {
      nodes.push(document.createTextNode(part));
    }
  }
  return nodes;
}

export interface MarkdownOptions {
  /** Level the text's `#` headings become (2 makes `#` an h2, `##` an h3 ...). */
  topLevel: number;
  /** Leave out a first `#` heading with this text (the title is shown already). */
  skipTitle?: string;
}

type HeadingTag = "h1" | "h2" | "h3" | "h4" | "h5" | "h6";

export function renderMarkdown(source: string, options: MarkdownOptions): DocumentFragment {
  const out = document.createDocumentFragment();
  let paragraph: string[] = [];
  const open: { list: HTMLUListElement | HTMLOListElement | null; item: HTMLLIElement | null } = {
    list: null,
    item: null,
  };
  let first = true;

  const flushParagraph = (): void => {
    if (paragraph.length) out.append(h("p", null, ...inline(paragraph.join(" "))));
    paragraph = [];
  };
  const endList = (): void => {
    open.list = null;
    open.item = null;
  };

  for (const raw of source.replace(/\r\n?/g, "\n").split("\n")) {
    const line = raw.trimEnd();
    if (!line.trim()) {
      flushParagraph();
      endList();
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flushParagraph();
      endList();
      const marks = heading[1] ?? "#";
      const text = heading[2] ?? "";
      const skip =
        first &&
        marks.length === 1 &&
        options.skipTitle !== undefined &&
        text.trim().toLowerCase() === options.skipTitle.trim().toLowerCase();
      if (!skip) {
        const level = Math.min(6, options.topLevel + marks.length - 1);
        out.append(h(`h${level}` as HeadingTag, null, ...inline(text)));
      }
      first = false;
      continue;
    }
    first = false;
    const bullet = BULLET.exec(line);
    const numbered = bullet ? null : NUMBERED.exec(line);
    if (bullet || numbered) {
      flushParagraph();
      const ordered = numbered !== null;
      let list = open.list;
      if (!list || (list.tagName === "OL") !== ordered) {
        list = ordered ? h("ol") : h("ul");
        const start = numbered ? Number(numbered[1]) : 1;
        if (ordered && start !== 1) list.setAttribute("start", String(start));
        out.append(list);
        open.list = list;
      }
      const text = (bullet ? bullet[1] : numbered?.[2]) ?? "";
      open.item = h("li", null, ...inline(text));
      list.append(open.item);
      continue;
    }
    if (open.item && /^\s+/.test(raw)) {
      // an indented line continues the list item above
      open.item.append(document.createTextNode(" "), ...inline(line.trim()));
      continue;
    }
    endList();
    paragraph.push(line.trim());
  }
  flushParagraph();
  return out;
}
