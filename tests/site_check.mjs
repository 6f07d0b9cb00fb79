// Load pages of the built docs site in jsdom, served from a local HTTP server, with every
// script running, and report what each page asked for: scripts, stylesheets, images and
// fonts (jsdom's resource loader), XHR and fetch calls and workers. Nothing outside the
// local server is fetched: such requests are refused and reported, so the result is what
// a reader with the network off would see. Also reports whether the theme drew the
// page's mermaid diagrams with a `mermaid` it found on the page.
// Usage: node tests/site_check.mjs NODE_MODULES SITE_DIR PAGE.html...
// A page given as "strip-mermaid:PAGE.html" is loaded without the site's mermaid script
// (the control: the theme must then reach for a CDN, which this must report).
// Prints one JSON line per page.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [modules, site, ...pages] = process.argv.slice(2);
const { JSDOM, ResourceLoader, VirtualConsole } = await import(
  pathToFileURL(path.join(modules, "jsdom", "lib", "api.js")).href
);

const server = http.createServer((request, response) => {
  let file = path.join(path.resolve(site), decodeURIComponent(new URL(request.url, "http://local").pathname));
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
  if (!file.startsWith(path.resolve(site)) || !fs.existsSync(file)) {
    response.writeHead(404);
    response.end();
    return;
  }
  response.writeHead(200);
  response.end(fs.readFileSync(file));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}/`;

let requested = [];
class LocalOnly extends ResourceLoader {
  fetch(url, options) {
    requested.push(url);
    return url.startsWith(origin) ? super.fetch(url, options) : null;
  }
}

// What jsdom lacks and the theme or mermaid call; none of it fetches anything.
function polyfill(window) {
  window.matchMedia = () => ({
    matches: false, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {},
  });
  window.ResizeObserver = class { observe() {} unobserve() {} disconnect() {} };
  window.IntersectionObserver = class {
    constructor(callback) { this.callback = callback; }
    observe(target) { setTimeout(() => this.callback([{ target, isIntersecting: true, intersectionRatio: 1 }], this)); }
    unobserve() {}
    disconnect() {}
  };
  window.scrollTo = () => {};
  const box = () => ({ x: 0, y: 0, width: 80, height: 20, top: 0, left: 0, right: 80, bottom: 20 });
  window.SVGElement.prototype.getBBox = box;
  window.SVGElement.prototype.getComputedTextLength = () => 80;
  const Dialog = window.HTMLDialogElement ?? window.HTMLElement;
  Dialog.prototype.close ??= function () { this.removeAttribute("open"); };
  Dialog.prototype.showModal ??= function () { this.setAttribute("open", ""); };
  window.Blob.prototype.text ??= function () {
    return new Promise((resolve, reject) => {
      const reader = new window.FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsText(this);
    });
  };
  const absolute = (url) => new URL(String(url?.url ?? url), window.location.href).href;
  const open = window.XMLHttpRequest.prototype.open;
  window.XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    const full = absolute(url);
    requested.push(full);
    return open.call(this, method, full.startsWith(origin) ? full : `${origin}refused`, ...rest);
  };
  window.fetch = (url, options) => {
    const full = absolute(url);
    requested.push(full);
    return full.startsWith(origin) ? fetch(full, options) : Promise.reject(new window.TypeError("offline"));
  };
  window.Worker = class {
    constructor(url) { requested.push(absolute(url)); }
    postMessage() {} addEventListener() {} removeEventListener() {} terminate() {}
  };
}

const problems = [];
process.on("unhandledRejection", (error) => problems.push(String(error?.message ?? error).slice(0, 160)));

for (const entry of pages) {
  const strip = entry.startsWith("strip-mermaid:");
  const page = entry.replace(/^strip-mermaid:/, "");
  requested = [];
  const errors = [];
  const console_ = new VirtualConsole();
  console_.on("jsdomError", (error) => errors.push(String(error.message).split("\n")[0].slice(0, 160)));
  let html = fs.readFileSync(path.join(site, page), "utf8");
  if (strip) html = html.replace(/<script src="[^"]*mermaid\.min\.js"><\/script>/, "");
  const dom = new JSDOM(html, {
    url: origin + page, resources: new LocalOnly(), runScripts: "dangerously",
    pretendToBeVisual: true, virtualConsole: console_, beforeParse: polyfill,
  });
  const { window } = dom;
  await new Promise((resolve) => window.addEventListener("load", resolve));
  // The theme replaces each `pre.mermaid` as it draws it; give it a few seconds.
  for (let waited = 0; waited < 5000 && window.document.querySelector("pre.mermaid"); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  console.log(JSON.stringify({
    page: entry,
    outside: [...new Set(requested.filter((url) => !url.startsWith(origin)))],
    local: [...new Set(requested.filter((url) => url.startsWith(origin)).map((url) => url.slice(origin.length)))],
    mermaid: typeof window.mermaid,
    diagrams_left: window.document.querySelectorAll("pre.mermaid").length,
    errors: [...errors, ...problems.splice(0)],
  }));
  window.close();
}
server.close();
process.exit(0);
