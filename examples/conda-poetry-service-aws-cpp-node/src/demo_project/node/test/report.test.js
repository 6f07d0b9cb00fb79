// Tests of report.js with Node.js's built-in test runner: run `node --test` in this folder's
// parent (or `npm test` there).
import assert from "node:assert/strict";
import { test } from "node:test";

import { escapeMarkdown, renderReport } from "../report.js";

test("writes one table row per score", () => {
  const report = renderReport({ title: "Run 1", scores: [0.5, -1.25] });
  const lines = report.split("\n");
  assert.equal(lines[0], "# Run 1");
  assert.ok(lines.includes("| 1 | 0.500 |"));
  assert.ok(lines.includes("| 2 | -1.250 |"));
  assert.ok(report.endsWith("|\n"));
});

test("summarizes count, mean, min and max", () => {
  const report = renderReport({ scores: [1, 2, 6] });
  assert.match(report, /^# Scores$/m);
  assert.match(report, /^3 rows; mean 3\.000, min 1\.000, max 6\.000\.$/m);
});

test("says so when there are no scores", () => {
  assert.equal(renderReport({ title: "Empty", scores: [] }), "# Empty\n\nNo scores.\n");
});

test("escapes Markdown in the title", () => {
  assert.equal(escapeMarkdown("a|b *c* [d]"), "a\\|b \\*c\\* \\[d\\]");
  assert.match(renderReport({ title: "# x", scores: [] }), /^# \\# x$/m);
});

test("rejects scores that are not finite numbers", () => {
  assert.throws(() => renderReport({ scores: ["1"] }), TypeError);
  assert.throws(() => renderReport({ scores: [Number.NaN] }), TypeError);
  assert.throws(() => renderReport({}), TypeError);
});
