// The shape every drain strategy has: what the sidecar and `check` ask of it.
import type { Effect } from "effect"
import type { TargetGroup, WatchedTarget } from "../../domain.ts"
import type { UnsupportedTask } from "../../errors.ts"

/** A target of the task, and when (Clock ms) it was first seen leaving its group, if it was. */
export interface EvidenceTarget {
  readonly target: WatchedTarget
  readonly leavingSince: number | undefined
}

/**
 * What the wait knows of the task's targets, read as it goes: once any target
 * is leaving, the wait covers every one of them, and the poll loop, still
 * running, adds a drain seen later.
 */
export type DrainEvidence = Effect.Effect<ReadonlyArray<EvidenceTarget>>

export interface WaitOutcome {
  readonly waitedSeconds: number
  /** For the last line: which condition ended the wait. */
  readonly why: string
  /** `connections` only: open connections on the targets' ports at the end. */
  readonly connectionsAtExit?: number
}

/** A target group as `advise` needs it. */
export type AdvisedGroup = Pick<TargetGroup, "arn"> & { readonly protocol: string | null | undefined }

export interface Strategy {
  readonly name: "fixed" | "connections"
  /** For "waiting before exit": what the wait will do. */
  readonly plan: string
  /** At startup: can it work in this task? Fails with exit 4 naming what to do. */
  readonly preflight: (networkMode: string) => Effect.Effect<void, UnsupportedTask>
  /** Whether polls made while waiting can change when the wait ends (each costs a call per group). */
  readonly watchesWhileWaiting: (groups: ReadonlyArray<TargetGroup>) => boolean
  /**
   * The wait before exit, counted from `startMillis` (Clock ms: when draining was seen, whatever ran
   * since); logs how it starts and why it ends.
   */
  readonly wait: (
    evidence: DrainEvidence,
    groups: ReadonlyArray<TargetGroup>,
    startMillis: number
  ) => Effect.Effect<WaitOutcome>
  /**
   * What to change for it to do better with these groups (for `check`); `connectionsVisible`: whether
   * `connections` could work in this task (not in bridge mode, nor with an unreadable socket table).
   */
  readonly advise: (groups: ReadonlyArray<AdvisedGroup>, connectionsVisible: boolean) => ReadonlyArray<string>
}
