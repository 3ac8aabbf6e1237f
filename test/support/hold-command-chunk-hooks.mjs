// Module loading hooks for hold-command-chunk.mjs. The command chunk is first
// served as a stand-in that waits a second on the main thread's event loop
// (where signals are handled) and then imports the real chunk.
export const load = async (url, context, nextLoad) => {
  if (!/\/dist\/chunks\/cli-[^/?]*\.js$/.test(url)) return nextLoad(url, context)
  return {
    format: "module",
    shortCircuit: true,
    source: [
      `import { writeSync } from "node:fs"`,
      `writeSync(2, "loading the command chunk\\n")`,
      `await new Promise((resolve) => setTimeout(resolve, 1000))`,
      `export const { runCommand } = await import(${JSON.stringify(`${url}?held`)})`
    ].join("\n")
  }
}
