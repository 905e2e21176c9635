#!/usr/bin/env node
// schema_check.mjs: validates JSON files against a JSON Schema (draft 2020-12) with Ajv in strict mode.
//
// Usage: node schema_check.mjs SCHEMA expect-valid|expect-invalid FILE...
// Prints one line per file: "ok" when the file met the expectation, "FAIL" otherwise, with Ajv's errors
// (the JSON path in the file and the message) for every invalid file. Exits 0 only if every file met the
// expectation, 1 if one did not, 2 on a usage error or a file (or the schema) that cannot be read or parsed.
// tests/e2e/config_schema_test.cpp runs it on schema/medgate.schema.json with the examples, with what
// medgate::to_json() writes, and with configurations the parser refuses.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';

const [schemaPath, expectation, ...files] = process.argv.slice(2);
if (!schemaPath || (expectation !== 'expect-valid' && expectation !== 'expect-invalid') || files.length === 0) {
  console.error('usage: node schema_check.mjs SCHEMA expect-valid|expect-invalid FILE...');
  process.exit(2);
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    console.error(`error: ${path}: ${e.message}`);
    process.exit(2);
  }
}

let validate;
try {
  // strict: unknown keywords, ignored keywords, types that do not apply and the like are schema errors.
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  validate = ajv.compile(readJson(schemaPath));
} catch (e) {
  console.error(`error: ${schemaPath} is not a valid schema: ${e.message}`);
  process.exit(2);
}

const wantValid = expectation === 'expect-valid';
let failures = 0;
for (const file of files) {
  const valid = validate(readJson(file));
  const met = valid === wantValid;
  if (!met) failures++;
  const verdict = valid ? 'valid' : 'invalid';
  console.log(`${met ? 'ok  ' : 'FAIL'} ${file}: ${verdict} (expected ${wantValid ? 'valid' : 'invalid'})`);
  if (!valid)
    for (const e of validate.errors)
      console.log(`       ${e.instancePath || '(top level)'} ${e.message}` +
                  (e.params && Object.keys(e.params).length > 0 ? ` ${JSON.stringify(e.params)}` : ''));
}
process.exit(failures === 0 ? 0 : 1);
