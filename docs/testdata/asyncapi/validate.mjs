// Parses an AsyncAPI document with the AsyncAPI project's own parser and
// prints each diagnostic; exits 1 when the document is invalid or has
// warnings. Usage: node validate.mjs ../../asyncapi.yaml
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const path = process.argv[2];
const { document, diagnostics } = await new Parser().parse(await readFile(path, 'utf8'), { source: path });
const names = { [DiagnosticSeverity.Error]: 'error', [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info', [DiagnosticSeverity.Hint]: 'hint' };
for (const d of diagnostics) {
  const at = d.range ? `${d.range.start.line + 1}:${d.range.start.character + 1}` : '';
  console.log(`${names[d.severity]} ${d.code} ${d.path.join('.')} ${at}: ${d.message}`);
}
const bad = diagnostics.filter((d) => d.severity <= DiagnosticSeverity.Warning);
if (!document || bad.length > 0) {
  console.log(`${path}: ${bad.length} errors and warnings`);
  process.exit(1);
}
console.log(`${path}: AsyncAPI ${document.version()}, ${document.allMessages().length} messages, ${document.allOperations().length} operations`);
