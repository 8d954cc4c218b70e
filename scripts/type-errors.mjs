#!/usr/bin/env node
// wasm-bindgen's glue throws a plain `Error("expected instance of Session")` when a method is
// given something other than an instance of the class it takes (`store.commit({})`); this
// library throws a `TypeError` for an argument of the wrong type (README), as JavaScript's own
// APIs do. Rewrites that one throw in each glue file named (the Makefile runs it after every
// wasm-pack build of the JS library), and fails when the glue checks a class some other way
// (a wasm-bindgen that changed it): the throw would be a plain Error again.
import { readFileSync, writeFileSync } from "node:fs";

const FROM = "throw new Error(`expected instance of ${klass.name}`);";
const TO = "throw new TypeError(`expected instance of ${klass.name}`);";

for (const file of process.argv.slice(2)) {
  const glue = readFileSync(file, "utf8");
  if (glue.includes("function _assertClass(") && !glue.includes(FROM) && !glue.includes(TO)) {
    console.error(`type-errors: ${file}: _assertClass throws something other than \`${FROM}\``);
    process.exit(1);
  }
  if (glue.includes(FROM)) writeFileSync(file, glue.replaceAll(FROM, TO));
}
