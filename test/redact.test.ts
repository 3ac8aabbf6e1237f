import { describe, expect, it } from "vitest"
import { redact } from "../src/redact.ts"

const token = "IQoJb3JpZ2luX2VjEDIaCXVzLWVhc3QtMSJHMEUCIQDexampletokenexampletoken0123456789abcdefABCDEF+/=="
const signature = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"

describe("redact", () => {
  it.each([
    [
      "a canonical request's token header",
      `host:elasticloadbalancing.us-east-1.amazonaws.com\nx-amz-security-token:${token}\n`,
      token
    ],
    ["a token that is not base64 of STS", "x-amz-security-token:simulated-session-token\n", "simulated-session-token"],
    [
      "a presigned query string",
      `?X-Amz-Security-Token=abc%2Fdef&X-Amz-Signature=${signature}&X-Amz-Credential=ASIAEXAMPLEEXAMPLE12%2F20240101`,
      "abc%2Fdef"
    ],
    [
      "an Authorization header",
      `Authorization=AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEEXAMPLE12/20240101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=${signature}`,
      "ASIAEXAMPLEEXAMPLE12"
    ],
    ["a signature alone", `Signature=${signature}`, signature],
    ["S3's SignatureProvided", `<SignatureProvided>${signature}</SignatureProvided>`, signature],
    [
      "credentials as JSON",
      `{"AccessKeyId":"ASIA…","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG","Token":"secret-token"}`,
      "wJalrXUtnFEMI"
    ],
    ["a bare STS token", `token ${token} expired`, token],
    ["a URL's user:password", "GET http://operator:pa55@169.254.170.2/v4/x/task failed", "pa55"]
  ])("%s", (_, text, secret) => {
    const clean = redact(text)
    expect(clean).not.toContain(secret)
    expect(clean).toContain("[redacted]")
  })

  it("leaves everything else as it was", () => {
    const text =
      "DescribeTargetHealth failed: Rate exceeded (arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/73e2d6bc24d8a067) http://169.254.170.2/v4/x"
    expect(redact(text)).toBe(text)
  })
})
