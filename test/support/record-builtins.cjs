// Preloaded into the sidecar by test/e2e/footprint.test.ts: writes the Node
// built-ins the process loaded to $RECORD_BUILTINS_FILE when it exits.
const { writeFileSync } = require("node:fs")
process.on("exit", () => writeFileSync(process.env.RECORD_BUILTINS_FILE, process.moduleLoadList.join("\n")))
