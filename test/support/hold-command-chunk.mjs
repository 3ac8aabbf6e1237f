// Preload (node --import): holds the loading of the sidecar's command chunk
// (dist/chunks/cli-*.js) for a second and says so on stderr, so that a test
// can signal the process after the entry point has started and before the
// Effect runtime has.
import { register } from "node:module"

register("./hold-command-chunk-hooks.mjs", import.meta.url)
