// Build the browser components into assets/, the one served folder (committed, so a fresh clone needs no npm):
//   live_latent.js, big_map.js, spatial_live.js, code_grid.js   one esbuild call, an entry point per component
//                                (src/<component>/index.js), and the Web Workers spatial_student_worker.js (tier b)
//                                and code_grid_worker.js (the code-grid editor's decode from indices)
//   <component>.css              their styles
//   live_latent_widget.js        the notebook widgets (explorer.notebook: LatentWalk and DrawPad, LatentMap): the
//   big_map_widget.js            same component code on the anywidget host (src/hosts/anywidget.js), one
//                                self-contained ESM each (src/<component>/widget.js)
//   metafile.json                what each bundle imports (esbuild's metafile: tests check both hosts share modules)
//   ort.wasm.bundle.min.mjs      onnxruntime-web's wasm-only ES module (the Emscripten glue inside), loaded by
//   ort-wasm-simd-threaded.wasm  src/common/ort.js from beside the bundle, with its WebAssembly binary
//   build-stamp.json             sha256 of every file under src/, the lockfile and this script
//                                (tests/frontend/test_frontend_build.py fails when they change without a rebuild)
// Versions are pinned by package-lock.json: `npm ci && node build.mjs` (or `npm run build`).
import { createHash } from "node:crypto";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = dirname(fileURLToPath(import.meta.url));
const OUT = join(ROOT, "assets");
const COMPONENTS = ["live_latent", "big_map", "spatial_live", "code_grid"];
// Web Workers, built beside the bundles: name -> source (a component makes them with new URL(name, import.meta.url))
const WORKERS = { spatial_student_worker: "spatial_live/student_worker.js", code_grid_worker: "code_grid/decode_worker.js" };
const WIDGETS = ["live_latent", "big_map"]; // components with a notebook widget entry (src/<name>/widget.js)
const ORT = ["ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm"];

const built = await build({
  entryPoints: Object.fromEntries([
    ...COMPONENTS.map((name) => [name, join(ROOT, "src", name, "index.js")]),
    ...Object.entries(WORKERS).map(([name, src]) => [name, join(ROOT, "src", src)]),
    ...WIDGETS.map((name) => [`${name}_widget`, join(ROOT, "src", name, "widget.js")]),
  ]),
  outdir: OUT,
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "none",
  external: ["./ort.wasm.bundle.min.mjs"], // beside the bundle at run time (src/common/ort.js)
  logLevel: "info",
  metafile: true,
  absWorkingDir: ROOT, // metafile paths relative to frontend/, wherever the build is run from
});
// the import graph, with paths relative to this folder and no byte counts (stable across machines)
const graph = (entries) => Object.fromEntries(Object.entries(entries).sort().map(([path, item]) =>
  [path, { imports: item.imports.map((i) => i.path).sort(), inputs: item.inputs ? Object.keys(item.inputs).sort() : undefined }]));
writeFileSync(join(OUT, "metafile.json"), JSON.stringify({ inputs: graph(built.metafile.inputs),
  outputs: graph(built.metafile.outputs) }, null, 2) + "\n");
for (const name of COMPONENTS) copyFileSync(join(ROOT, "src", name, `${name}.css`), join(OUT, `${name}.css`));
for (const name of ORT) copyFileSync(join(ROOT, "node_modules", "onnxruntime-web", "dist", name), join(OUT, name));

// the stamp: the same list and hashes as tests/frontend/test_frontend_build.py computes
const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]);
const inputs = [...files(join(ROOT, "src")), join(ROOT, "package-lock.json"), join(ROOT, "build.mjs")]
  .map((path) => relative(ROOT, path).split("\\").join("/")).sort();
const sha = (path) => createHash("sha256").update(readFileSync(join(ROOT, path))).digest("hex");
const stamp = { inputs: Object.fromEntries(inputs.map((path) => [path, sha(path)])),
  outputs: Object.fromEntries(readdirSync(OUT).filter((n) => /\.(js|css|mjs|wasm)$/.test(n)).sort()
    .map((n) => [n, sha(join("assets", n))])) };
writeFileSync(join(OUT, "build-stamp.json"), JSON.stringify(stamp, null, 2) + "\n");
