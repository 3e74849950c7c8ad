// Builds the views' bundle: src/main.ts -> dist/app.js, src/styles.css -> dist/app.css.
// Same inputs, same bytes: no source maps, no absolute paths, no timestamps in the output.
//
//   node build.mjs           build and write dist/ (or $VIEWS_OUT_DIR, as the bundle test does)
//   node build.mjs --check   build in memory; exit 1 when dist/ differs from the sources

import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const committed = join(here, "dist");
const dist = process.env.VIEWS_OUT_DIR ? resolve(process.env.VIEWS_OUT_DIR) : committed;
const check = process.argv.includes("--check");

// @modelcontextprotocol/client has no "sideEffects" field, so a bundler must keep every
// module of it that anything imports. Nothing in it runs on import on the browser path
// (only the workerd shim preloads schemas), so it is marked side-effect free here: the
// bundle then drops what App never calls (the Client class, OAuth, the HTTP transports
// and the JSON Schema validator), about 70 KB minified.
const SIDE_EFFECT_FREE = ["@modelcontextprotocol/client"];

const sideEffectFree = {
  name: "side-effect-free",
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === sideEffectFree) return undefined;
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: sideEffectFree,
      });
      if (resolved.errors.length) return undefined;
      const inPackage = SIDE_EFFECT_FREE.some((name) =>
        resolved.path.split(/[\\/]/).join("/").includes(`/node_modules/${name}/`),
      );
      return inPackage ? { ...resolved, sideEffects: false } : resolved;
    });
  },
};

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  write: false,
  sourcemap: false,
  legalComments: "eof",
  charset: "ascii",
  logLevel: "warning",
};

async function build() {
  const [script, style] = await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: ["src/main.ts"],
      outfile: "dist/app.js",
      format: "iife",
      platform: "browser",
      target: "es2020",
      define: { "process.env.NODE_ENV": '"production"' },
      plugins: [sideEffectFree],
    }),
    esbuild.build({
      ...common,
      entryPoints: ["src/styles.css"],
      outfile: "dist/app.css",
    }),
  ]);
  return [
    ["app.js", only(script)],
    ["app.css", only(style)],
  ];
}

function only(result) {
  if (result.outputFiles.length !== 1) throw new Error(`expected one output, got ${result.outputFiles.length}`);
  return Buffer.from(result.outputFiles[0].contents);
}

function kb(bytes) {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

const outputs = await build();
let stale = false;
for (const [name, bytes] of outputs) {
  const path = join(check ? committed : dist, name);
  const inside = !relative(here, path).startsWith("..");
  const shown = inside ? relative(here, path) : path;
  const sha = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
  const gzip = gzipSync(bytes, { level: 9 }).length;
  if (check) {
    const current = await readFile(path).catch(() => null);
    const same = current !== null && current.equals(bytes);
    stale ||= !same;
    console.log(`${shown}  ${same ? "up to date" : "DIFFERS from a fresh build"}`);
  } else {
    await mkdir(dist, { recursive: true });
    await writeFile(path, bytes);
    console.log(`${shown}  ${kb(bytes.length)}  (gzip ${kb(gzip)})  sha256 ${sha}…`);
  }
}
if (!check) {
  // The view document is the two files inlined in a small HTML frame (views/__init__.py).
  const total = outputs.reduce((sum, [, bytes]) => sum + bytes.length, 0);
  const gzip = gzipSync(Buffer.concat(outputs.map(([, bytes]) => bytes)), { level: 9 }).length;
  console.log(`each view document  ~${kb(total + 400)}  (gzip ~${kb(gzip + 250)})`);
}
if (stale) {
  console.error("dist/ is stale: run `npm run build` and commit dist/.");
  process.exit(1);
}
