// Parse every ```mermaid block of the given Markdown files with mermaid itself (in jsdom),
// so a diagram that the browser could not draw fails the docs tests.
// Usage: node tests/mermaid_check.mjs NODE_MODULES FILE.md...; prints one line per diagram.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [modules, ...files] = process.argv.slice(2);
const load = (name) => import(pathToFileURL(path.join(modules, name, path.sep)).href.replace(/\/$/, "") + "/" + entry(name));
function entry(name) {
  const pkg = JSON.parse(fs.readFileSync(path.join(modules, name, "package.json"), "utf8"));
  const exported = pkg.exports?.["."];
  const target = typeof exported === "string" ? exported : exported?.import?.default ?? exported?.import ?? exported?.default ?? pkg.module ?? pkg.main;
  return typeof target === "string" ? target.replace(/^\.\//, "") : "index.js";
}

const { JSDOM } = await load("jsdom");
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
globalThis.Element = dom.window.Element;
const { default: mermaid } = await load("mermaid");
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of files) {
  const text = fs.readFileSync(file, "utf8");
  for (const match of text.matchAll(/^([ \t]*)```mermaid\n([\s\S]*?)^\1```/gm)) {
    const block = match[2].split("\n").map((line) => line.slice(match[1].length)).join("\n");
    try {
      await mermaid.parse(block);
      console.log(`ok ${file}`);
    } catch (error) {
      failed += 1;
      console.log(`FAIL ${file}: ${String(error.message ?? error).split("\n").slice(0, 4).join(" ")}`);
    }
  }
}
process.exit(failed ? 1 : 0);
