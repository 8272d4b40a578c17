// Validates an AsyncAPI document with the official parser; exits 1 and prints every diagnostic on error.
// Usage: node tools/asyncapi/validate.mjs contracts/asyncapi.json
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs <asyncapi document>");
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(path, "utf8"), { source: path });
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning);
for (const d of [...errors, ...warnings]) {
  const where = d.path && d.path.length ? d.path.join(".") : "(document)";
  const level = d.severity === DiagnosticSeverity.Error ? "error" : "warning";
  console.error(`${level}: ${where}: ${d.message} [${d.code}]`);
}
if (!document || errors.length) {
  console.error(`${path}: INVALID (${errors.length} errors)`);
  process.exit(1);
}
// Warnings fail too: the document is generated, so a warning is a generator bug worth fixing at once.
if (warnings.length) {
  console.error(`${path}: ${warnings.length} warnings`);
  process.exit(1);
}
const version = document.version();
const channels = document.channels().length;
const operations = document.operations().length;
const messages = document.components().messages().length;
console.log(`${path}: valid AsyncAPI ${version} (${channels} channels, ${operations} operations, ${messages} messages)`);
