import { describe, expect, it } from "vitest"
import { heartbeatMaxAgeMillis, judgeHeartbeat } from "../src/heartbeat.ts"

describe("healthcheck verdict", () => {
  it("is healthy while the stamp is fresh, however AWS is doing", () => {
    expect(judgeHeartbeat(String(1_000_000), 1_000_000 + heartbeatMaxAgeMillis)).toEqual({ healthy: true, ageMillis: heartbeatMaxAgeMillis })
  })
  it("is unhealthy when the sidecar stalled, never wrote, or wrote garbage", () => {
    expect(judgeHeartbeat(String(1_000_000), 1_000_000 + heartbeatMaxAgeMillis + 1)).toMatchObject({ healthy: false, why: expect.stringContaining("stalled") })
    expect(judgeHeartbeat(undefined, 0)).toMatchObject({ healthy: false, why: expect.stringContaining("no heartbeat file") })
    expect(judgeHeartbeat("banana", 0)).toMatchObject({ healthy: false, why: expect.stringContaining("not a time") })
  })
})
