/**
 * A small MCP Apps host for tests/e2e/test_views_browser.py, built on the official host
 * side: `AppBridge` from `@modelcontextprotocol/ext-apps/app-bridge` and the official
 * TypeScript client (`@modelcontextprotocol/client`, streamable HTTP).
 *
 * The page is served by the test on the same origin as a proxy to pantry-mcp's `/mcp`
 * (pantry-mcp sends no CORS headers), so the client talks to `/mcp` on its own origin with
 * the bearer token given in the URL hash (`#token=...`) or in `window.pantryHostToken`.
 *
 * `window.pantryHost.open(tool, args, theme)` does what a chat host does when the model
 * calls a tool: calls it, finds its view (`_meta.ui.resourceUri` in tools/list), reads that
 * `ui://` resource, renders it in a sandboxed iframe (scripts only, opaque origin, a CSP
 * that denies all network), connects an AppBridge wired to the client (the view's
 * tools/call and resources/read go to the server) and, once the view says it is
 * initialized, sends it the tool input and then the tool result.
 *
 * What the view does that a test checks is recorded on `window.pantryHostRecord`:
 * `ui/message` requests, size changes, open-link requests, log messages, and console errors
 * and CSP violation reports inside the view (through a few lines the host adds to the
 * document: Chromium's log has console errors, not CSP reports, and none at all from a
 * sandboxed frame in a renderer of its own).
 */
import {
  AppBridge,
  getToolUiResourceUri,
  PostMessageTransport,
  RESOURCE_MIME_TYPE,
  type McpUiHostContext,
  type McpUiStyles,
  type McpUiTheme,
} from "@modelcontextprotocol/ext-apps/app-bridge";
import {
  Client,
  StreamableHTTPClientTransport,
  type CallToolResult,
  type Tool,
} from "@modelcontextprotocol/client";

type Json = Record<string, unknown>;

/** What the view did, for the test to read. */
interface HostRecord {
  initialized: number;
  messages: Json[];
  sizes: { width?: number; height?: number }[];
  links: string[];
  logs: Json[];
  contextUpdates: Json[];
  viewErrors: string[];
  cspViolations: string[];
  hostErrors: string[];
}

interface Shown {
  tool: Tool;
  args: Json;
  result: CallToolResult;
  uri: string;
  mimeType: string | undefined;
  html: string;
}

const EXTENSION_ID = "io.modelcontextprotocol/ui";
const HANDSHAKE_TIMEOUT_MS = 15000;
/** The document the view gets may reach nothing: no fetch, no image, no font from anywhere. */
const VIEW_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; " +
  "font-src data:; connect-src 'none'; frame-src 'none'; form-action 'none'; base-uri 'none'";
const PROBE_TAG = "pantry-test-host";

const LIGHT: Partial<McpUiStyles> = {
  "--color-background-primary": "#ffffff",
  "--color-background-secondary": "#f5f4ed",
  "--color-background-tertiary": "#faf9f5",
  "--color-background-inverse": "#141413",
  "--color-background-danger": "#fdecec",
  "--color-background-success": "#e9f5ec",
  "--color-text-primary": "#141413",
  "--color-text-secondary": "#3d3d3a",
  "--color-text-tertiary": "#73726c",
  "--color-text-inverse": "#ffffff",
  "--color-text-danger": "#b3261e",
  "--color-text-success": "#1e6b34",
  "--color-border-primary": "#d4d2c8",
  "--color-border-secondary": "#e3e1d8",
  "--color-border-tertiary": "#eeece4",
  "--color-ring-primary": "#2c6ecb",
  "--font-sans": "system-ui, -apple-system, 'Segoe UI', sans-serif",
  "--font-mono": "ui-monospace, monospace",
  "--border-radius-sm": "6px",
  "--border-radius-md": "8px",
  "--border-radius-lg": "12px",
};

const DARK: Partial<McpUiStyles> = {
  "--color-background-primary": "#262624",
  "--color-background-secondary": "#1f1f1e",
  "--color-background-tertiary": "#30302e",
  "--color-background-inverse": "#faf9f5",
  "--color-background-danger": "#4a1f1d",
  "--color-background-success": "#1d3a25",
  "--color-text-primary": "#f5f4ef",
  "--color-text-secondary": "#c2c0b6",
  "--color-text-tertiary": "#9c9a92",
  "--color-text-inverse": "#141413",
  "--color-text-danger": "#f2b8b5",
  "--color-text-success": "#a8dab5",
  "--color-border-primary": "#4a4945",
  "--color-border-secondary": "#3d3c39",
  "--color-border-tertiary": "#34332f",
  "--color-ring-primary": "#7aa7ec",
  "--font-sans": "system-ui, -apple-system, 'Segoe UI', sans-serif",
  "--font-mono": "ui-monospace, monospace",
  "--border-radius-sm": "6px",
  "--border-radius-md": "8px",
  "--border-radius-lg": "12px",
};

const record: HostRecord = {
  initialized: 0,
  messages: [],
  sizes: [],
  links: [],
  logs: [],
  contextUpdates: [],
  viewErrors: [],
  cspViolations: [],
  hostErrors: [],
};

let client: Client | undefined;
let tools: Tool[] | undefined;
let bridge: AppBridge | undefined;
let frame: HTMLIFrameElement | undefined;
let shown: Shown | undefined;
let theme: McpUiTheme = "light";

function token(): string {
  const fromGlobal = (window as unknown as { pantryHostToken?: string }).pantryHostToken;
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  const value = fromGlobal ?? fromHash;
  if (!value) throw new Error("no bearer token: open the page with #token=... in its URL");
  return value;
}

async function connected(): Promise<Client> {
  if (client) return client;
  const transport = new StreamableHTTPClientTransport(new URL("/mcp", location.origin), {
    requestInit: { headers: { Authorization: `Bearer ${token()}` } },
  });
  const fresh = new Client(
    { name: "pantry-mcp-test-host", version: "1.0.0" },
    { capabilities: { extensions: { [EXTENSION_ID]: { mimeTypes: [RESOURCE_MIME_TYPE] } } } },
  );
  await fresh.connect(transport);
  client = fresh;
  return fresh;
}

async function listTools(mcp: Client): Promise<Tool[]> {
  if (tools) return tools;
  const all: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await mcp.listTools(cursor ? { cursor } : undefined);
    all.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  tools = all;
  return all;
}

function hostContext(tool: Tool | undefined): McpUiHostContext {
  return {
    theme,
    styles: { variables: (theme === "dark" ? DARK : LIGHT) as McpUiStyles },
    displayMode: "inline",
    availableDisplayModes: ["inline"],
    containerDimensions: { width: document.documentElement.clientWidth, maxHeight: 4000 },
    locale: "en-US",
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    platform: "web",
    userAgent: "pantry-mcp-test-host/1.0.0",
    deviceCapabilities: { touch: false, hover: true },
    ...(tool ? { toolInfo: { tool } } : {}),
  };
}

/** The host's own lines in the view's document: the strict CSP, and a probe that reports
 * console errors, uncaught errors and CSP violations to the host (not JSON-RPC, so the
 * view's transport ignores them). */
function withHostHead(html: string): string {
  const probe = `<script>(() => {
  const tell = (kind, text) => parent.postMessage({ [${JSON.stringify(PROBE_TAG)}]: kind, text: String(text).slice(0, 2000) }, "*");
  const original = console.error.bind(console);
  console.error = (...args) => { tell("console.error", args.map((a) => (a && a.stack) || (typeof a === "object" ? JSON.stringify(a) : a)).join(" ")); original(...args); };
  addEventListener("error", (e) => tell("error", (e.error && e.error.stack) || e.message));
  addEventListener("unhandledrejection", (e) => tell("unhandledrejection", (e.reason && e.reason.stack) || e.reason));
  addEventListener("securitypolicyviolation", (e) => tell("csp", e.violatedDirective + " blocked " + e.blockedURI + " at " + e.sourceFile + ":" + e.lineNumber + ":" + e.columnNumber + (e.sample ? " (" + e.sample + ")" : "")));
})();</script>`;
  const head = `<meta http-equiv="Content-Security-Policy" content="${VIEW_CSP}">${probe}`;
  const at = html.search(/<head[^>]*>/i);
  if (at < 0) return head + html;
  const end = html.indexOf(">", at) + 1;
  return html.slice(0, end) + head + html.slice(end);
}

window.addEventListener("message", (event: MessageEvent) => {
  const data = event.data as Json | null;
  if (!frame || event.source !== frame.contentWindow || !data || !(PROBE_TAG in data)) return;
  const kind = String(data[PROBE_TAG]);
  (kind === "csp" ? record.cspViolations : record.viewErrors).push(`${kind}: ${String(data.text)}`);
});
window.addEventListener("error", (event) => record.hostErrors.push(String(event.message)));
window.addEventListener("unhandledrejection", (event) =>
  record.hostErrors.push(String((event.reason as Error | undefined)?.stack ?? event.reason)),
);

/** Render `view` in a fresh iframe with a fresh bridge; resolves after the tool result was
 * sent to the view (which happens once the view's initialized notification arrived). */
async function mount(view: Shown): Promise<void> {
  const mcp = await connected();
  await unmount();
  const slot = document.getElementById("slot")!;
  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts");
  iframe.setAttribute("title", view.tool.title ?? view.tool.name);
  iframe.style.visibility = "hidden"; // until the handshake ends
  iframe.dataset.uri = view.uri;
  slot.appendChild(iframe);
  frame = iframe;

  const appBridge = new AppBridge(
    mcp,
    { name: "pantry-mcp-test-host", version: "1.0.0" },
    {
      openLinks: {},
      serverTools: {},
      serverResources: {},
      logging: {},
      message: { text: {} },
      updateModelContext: { text: {}, structuredContent: {} },
    },
    { hostContext: hostContext(view.tool) },
  );
  bridge = appBridge;
  appBridge.onmessage = async (params) => {
    record.messages.push(params as unknown as Json);
    return {};
  };
  appBridge.onsizechange = (params) => {
    record.sizes.push({ width: params.width, height: params.height });
    if (params.height !== undefined) iframe.style.height = `${Math.ceil(params.height)}px`;
  };
  appBridge.onopenlink = async (params) => {
    record.links.push(params.url);
    return {};
  };
  appBridge.onloggingmessage = (params) => {
    record.logs.push(params as unknown as Json);
  };
  appBridge.onupdatemodelcontext = async (params) => {
    record.contextUpdates.push(params as unknown as Json);
    return {};
  };
  const sent = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the view sent no initialized notification in ${HANDSHAKE_TIMEOUT_MS} ms`)),
      HANDSHAKE_TIMEOUT_MS,
    );
    appBridge.oninitialized = () => {
      clearTimeout(timer);
      record.initialized += 1;
      iframe.style.visibility = "visible";
      void (async () => {
        await appBridge.sendToolInput({ arguments: view.args });
        await appBridge.sendToolResult(view.result);
      })().then(resolve, reject);
    };
  });
  await appBridge.connect(new PostMessageTransport(iframe.contentWindow!, iframe.contentWindow!));
  iframe.srcdoc = withHostHead(view.html);
  await sent;
  document.body.dataset.hostState = "shown";
}

async function unmount(): Promise<void> {
  const old = bridge;
  bridge = undefined;
  if (old) await old.close();
  frame?.remove();
  frame = undefined;
}

async function open(name: string, args: Json, wanted?: McpUiTheme): Promise<Json> {
  if (wanted) setTheme(wanted);
  const mcp = await connected();
  const tool = (await listTools(mcp)).find((t) => t.name === name);
  if (!tool) throw new Error(`tools/list has no tool ${name}`);
  const uri = getToolUiResourceUri(tool);
  if (!uri) throw new Error(`tool ${name} names no view (_meta.ui.resourceUri)`);
  const result = (await mcp.callTool({ name, arguments: args })) as CallToolResult;
  const read = await mcp.readResource({ uri });
  const content = read.contents[0] as { text?: string; mimeType?: string } | undefined;
  if (!content || typeof content.text !== "string") throw new Error(`${uri} has no text`);
  if (content.mimeType !== RESOURCE_MIME_TYPE) {
    throw new Error(`${uri} is ${content.mimeType}, not ${RESOURCE_MIME_TYPE}`);
  }
  shown = { tool, args, result, uri, mimeType: content.mimeType, html: content.text };
  await mount(shown);
  return { result: result as unknown as Json, uri, mimeType: content.mimeType, tool: tool as unknown as Json };
}

/** Re-create the frame and replay the ORIGINAL tool input and result, as a host does when
 * the conversation is opened again. */
async function reload(): Promise<void> {
  if (!shown) throw new Error("nothing shown yet");
  await mount(shown);
}

function setTheme(next: McpUiTheme): void {
  theme = next;
  document.body.dataset.theme = next;
  if (bridge) bridge.setHostContext(hostContext(shown?.tool));
}

async function call(name: string, args: Json): Promise<Json> {
  const mcp = await connected();
  return (await mcp.callTool({ name, arguments: args })) as unknown as Json;
}

async function toolList(): Promise<Json[]> {
  return (await listTools(await connected())) as unknown as Json[];
}

async function readResource(uri: string): Promise<Json> {
  return (await (await connected()).readResource({ uri })) as unknown as Json;
}

/** Close the view and the client (which ends its streams to the server). */
async function close(): Promise<void> {
  await unmount();
  const old = client;
  client = undefined;
  tools = undefined;
  if (old) await old.close();
}

const api = { open, reload, setTheme, call, toolList, readResource, close, record };
(window as unknown as { pantryHost: typeof api; pantryHostRecord: HostRecord }).pantryHost = api;
(window as unknown as { pantryHostRecord: HostRecord }).pantryHostRecord = record;
document.body.dataset.hostState = "ready";
