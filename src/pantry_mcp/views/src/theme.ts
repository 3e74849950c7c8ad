// The host's look: theme, style variables and fonts from the host context; the
// system's light/dark preference while the host names no theme.

import {
  applyDocumentTheme,
  applyHostFonts,
  applyHostStyleVariables,
  type McpUiHostContext,
} from "@modelcontextprotocol/ext-apps";

const darkQuery = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
let hostTheme = false;

function systemTheme(): "light" | "dark" {
  return darkQuery?.matches ? "dark" : "light";
}

/** Follow prefers-color-scheme until the host names a theme. Call once, early. */
export function followSystemTheme(): void {
  applyDocumentTheme(systemTheme());
  darkQuery?.addEventListener("change", () => {
    if (!hostTheme) applyDocumentTheme(systemTheme());
  });
}

/** Apply what the host context says about the look; call on connect and on every change. */
export function applyHostContext(context: McpUiHostContext | undefined): void {
  if (!context) return;
  if (context.theme === "light" || context.theme === "dark") {
    hostTheme = true;
    applyDocumentTheme(context.theme);
  }
  const variables = context.styles?.variables;
  if (variables) applyHostStyleVariables(variables);
  const fonts = context.styles?.css?.fonts;
  if (fonts) applyHostFonts(fonts);
  const insets = context.safeAreaInsets;
  if (insets) {
    const style = document.documentElement.style;
    style.setProperty("--safe-top", `${insets.top}px`);
    style.setProperty("--safe-right", `${insets.right}px`);
    style.setProperty("--safe-bottom", `${insets.bottom}px`);
    style.setProperty("--safe-left", `${insets.left}px`);
  }
}
