// Markdown reports of the model's scores. `renderReport` is the JavaScript API; run as a
// command, the file reads {"title": ..., "scores": [...]} as JSON on standard input and
// writes the report to standard output. demo_project.report.render_report() calls it.
// No npm dependencies: only Node.js's standard library.
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

const DIGITS = 3;

/** Escapes the characters that Markdown would read as formatting. */
export function escapeMarkdown(text) {
  return String(text).replace(/[\\`*_[\]#|<>]/g, "\\$&");
}

/** A Markdown report: title, a one-line summary and one table row per score. */
export function renderReport({ title = "Scores", scores }) {
  if (!Array.isArray(scores) || !scores.every((score) => Number.isFinite(score))) {
    throw new TypeError("scores must be an array of finite numbers");
  }
  const lines = [`# ${escapeMarkdown(title)}`, ""];
  if (scores.length === 0) {
    lines.push("No scores.");
    return `${lines.join("\n")}\n`;
  }
  const format = (value) => value.toFixed(DIGITS);
  const sum = scores.reduce((total, score) => total + score, 0);
  const min = scores.reduce((low, score) => Math.min(low, score));
  const max = scores.reduce((high, score) => Math.max(high, score));
  lines.push(
    `${scores.length} rows; mean ${format(sum / scores.length)}, min ${format(min)}, max ${format(max)}.`,
    "",
    "| row | score |",
    "| ---: | ---: |",
    ...scores.map((score, index) => `| ${index + 1} | ${format(score)} |`),
  );
  return `${lines.join("\n")}\n`;
}

const invokedAsCommand =
  process.argv[1] !== undefined &&
  realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedAsCommand) {
  process.stdout.write(renderReport(JSON.parse(readFileSync(0, "utf8"))));
}
