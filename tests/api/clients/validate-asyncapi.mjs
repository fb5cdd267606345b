// Parses an AsyncAPI document with the AsyncAPI initiative's own parser and prints every
// diagnostic as one JSON line; exits non-zero when the document has an error or a warning.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';

const file = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'));
// Spectral severities: 0 error, 1 warning, 2 information, 3 hint.
const serious = diagnostics.filter((d) => d.severity <= 1);
for (const d of diagnostics) {
  console.log(JSON.stringify({ severity: d.severity, code: d.code, message: d.message, path: d.path }));
}
if (!document || serious.length) process.exit(1);
console.log(`valid: ${document.channels().length} channels, ${document.messages().length} messages`);
