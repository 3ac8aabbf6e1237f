// One way to say "the program ended with this error and this exit code".
import { assert } from "@effect/vitest"
import { Cause, Exit } from "effect"
import { exitCodeOf } from "../../src/errors.ts"

/** `exit` is a failure whose error has `_tag` `tag`, and the process would exit with `exitCode`; returns the error. */
export const expectFailure = (
  exit: Exit.Exit<unknown, unknown> | undefined,
  tag: string,
  exitCode: number
): Error & Record<string, unknown> => {
  if (exit === undefined) return assert.fail(`expected the program to have ended with ${tag}, but it is still running`)
  if (Exit.isSuccess(exit)) return assert.fail(`expected ${tag}, but the program succeeded`)
  const error = Cause.findErrorOption(exit.cause)
  assert.strictEqual(
    error._tag === "Some" ? (error.value as { _tag?: string })._tag : `no error (${Cause.pretty(exit.cause)})`,
    tag
  )
  assert.strictEqual(exitCodeOf(exit), exitCode)
  return (error as { value: Error & Record<string, unknown> }).value
}
