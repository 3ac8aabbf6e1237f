// SIGTERM and SIGINT are caught from the entry point's first statement. Until
// the Effect runtime installs its own handlers, once the command's code has
// loaded (about 150 ms), a signal would end the process with 143, or be
// ignored until SIGKILL when the sidecar is PID 1. A signal that comes this
// early is kept, and the runtime honours it as soon as it starts: a clean
// stop, exit 0, as at any later moment.
let received: NodeJS.Signals | undefined
const keep = (signal: NodeJS.Signals) => {
  received ??= signal
}
process.on("SIGTERM", keep)
process.on("SIGINT", keep)

/** For the runtime, once its own handlers are in place: stops keeping signals, and says which came first, if any. */
export const takeOverSignals = (): NodeJS.Signals | undefined => {
  process.off("SIGTERM", keep)
  process.off("SIGINT", keep)
  return received
}
