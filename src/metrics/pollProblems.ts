// A counter of failed and throttled polls per target group, and when its
// counts are due to be written (PollFailures, ThrottledPolls). Pure.

/** PollFailures and ThrottledPolls are written at most this often, and only while one is not zero. */
export const pollProblemsIntervalMs = 60_000

/** Failed and throttled polls of one target group since the last record. */
export interface PollProblems {
  readonly failures: number
  readonly throttled: number
  /** When counts were last written, on the caller's clock (ms); `undefined`: never. */
  readonly writtenAt: number | undefined
}

export const noPollProblems: PollProblems = { failures: 0, throttled: 0, writtenAt: undefined }

/** Counts one failed poll; a throttled poll is a failure too. */
export const countFailedPoll = (state: PollProblems, throttled: boolean): PollProblems => ({
  ...state,
  failures: state.failures + 1,
  throttled: state.throttled + (throttled ? 1 : 0)
})

/**
 * Whether the counts are due at `now`: not zero, and the first ever or a
 * minute (`pollProblemsIntervalMs`) or more after the last. When due, `write`
 * holds them and `next` starts again from zero; otherwise `next` is `state`.
 * `final: true` (the sidecar is ending) writes what is left whatever the time.
 */
export const pollProblemsDue = (
  state: PollProblems,
  now: number,
  options: { readonly final?: boolean } = {}
): {
  readonly write: { readonly failures: number; readonly throttled: number } | undefined
  readonly next: PollProblems
} => {
  const due = state.failures + state.throttled > 0 &&
    (options.final === true || state.writtenAt === undefined || now - state.writtenAt >= pollProblemsIntervalMs)
  return due
    ? {
      write: { failures: state.failures, throttled: state.throttled },
      next: { failures: 0, throttled: 0, writtenAt: now }
    }
    : { write: undefined, next: state }
}
