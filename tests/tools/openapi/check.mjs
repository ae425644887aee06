// Checks crieur's OpenAPI document with validators written outside the project: the document
// against the OpenAPI 3.1 schema (@seriousme/openapi-schema-validator), then, if given, each
// response recorded by an integration test against the document's schema for its operation and
// status (Ajv, JSON Schema 2020-12, the dialect of OpenAPI 3.1).
//   node check.mjs docs/openapi.json [responses.jsonl]
// A responses line: {"method":"GET","path":"/v1/messages/{id}","status":200,"body":"..."}.
// Prints one line per problem and exits 1 if there is any.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [docPath, responsesPath] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(docPath, "utf8"));
let problems = 0;

const result = await new Validator().validate(doc);
if (!result.valid) {
  for (const e of [].concat(result.errors)) console.log(`${docPath}: ${JSON.stringify(e)}`);
  process.exit(1);
}
console.log(`${docPath}: a valid OpenAPI ${doc.openapi} document`);

if (responsesPath) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: "openapi", components: doc.components });
  // "#/components/..." in the document means the document's own components.
  const rebase = (s) => JSON.parse(JSON.stringify(s).replaceAll('"#/components/', '"openapi#/components/'));
  let checked = 0;
  const lines = readFileSync(responsesPath, "utf8").split("\n").filter((l) => l.trim());
  for (const [i, line] of lines.entries()) {
    const r = JSON.parse(line);
    const where = `${responsesPath}:${i + 1}: ${r.method} ${r.path} ${r.status}`;
    const op = doc.paths[r.path]?.[r.method.toLowerCase()];
    if (!op) { console.log(`${where}: no such operation in the document`); problems++; continue; }
    const answer = op.responses[String(r.status)];
    if (!answer) { console.log(`${where}: the document does not list this status`); problems++; continue; }
    const media = answer.content && Object.values(answer.content)[0];
    if (!media?.schema) continue;
    // JSON lines (a batch's answer): each line against the document's x-line-schema.
    if (media["x-line-schema"]) {
      const validateLine = ajv.compile(rebase(media["x-line-schema"]));
      for (const [n, text] of r.body.split("\n").filter((l) => l.trim()).entries()) {
        let item;
        try { item = JSON.parse(text); } catch { console.log(`${where}: line ${n + 1} is not JSON`); problems++; continue; }
        if (!validateLine(item)) { console.log(`${where}: line ${n + 1}: ${ajv.errorsText(validateLine.errors)}`); problems++; }
      }
      checked++;
      continue;
    }
    let body;
    try { body = JSON.parse(r.body); } catch { console.log(`${where}: the body is not JSON`); problems++; continue; }
    const validate = ajv.compile(rebase(media.schema));
    if (!validate(body)) {
      console.log(`${where}: ${ajv.errorsText(validate.errors)}`);
      problems++;
    }
    checked++;
  }
  console.log(`${responsesPath}: ${checked} responses checked against the document, ${problems} problems`);
}
process.exit(problems ? 1 : 0);
