// Node (CommonJS): the package through require(); the suite and jose are ES modules.
const lib = require("edge-session");
const store = require("edge-session/store");
const assertion = require("edge-session/assertion");
const dbsc = require("edge-session/dbsc");

(async () => {
  const jose = await import("jose");
  const { smoke } = await import("./smoke.mjs");
  console.log(`SMOKE ${JSON.stringify(await smoke({ lib, store, assertion, dbsc, jose }))}`);
})();
