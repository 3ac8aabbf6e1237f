// What AWS answers when a request's SigV4 signature does not match: the
// canonical request and the string to sign it expected, built from the
// request itself, session token included, as the real message quotes them.
import { createHash } from "node:crypto"
import type { IncomingMessage } from "node:http"

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

export const signatureMismatchMessage = (req: IncomingMessage, body: string): string => {
  const authorization = String(req.headers.authorization ?? "")
  const signedHeaders = authorization.match(/SignedHeaders=([^,\s]+)/)?.[1]?.split(";") ?? ["host"]
  const scope = authorization.match(/Credential=[^/]+\/([^,\s]+)/)?.[1] ?? ""
  const url = new URL(req.url ?? "/", "http://127.0.0.1")
  const canonical = [
    req.method ?? "GET",
    url.pathname,
    url.searchParams.toString(),
    ...signedHeaders.map((h) => `${h}:${String(req.headers[h] ?? "").trim()}`),
    "",
    signedHeaders.join(";"),
    String(req.headers["x-amz-content-sha256"] ?? sha256(body))
  ].join("\n")
  const stringToSign = ["AWS4-HMAC-SHA256", String(req.headers["x-amz-date"] ?? ""), scope, sha256(canonical)].join(
    "\n"
  )
  return "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n" +
    `The Canonical String for this request should have been\n'${canonical}'\n\nThe String-to-Sign should have been\n'${stringToSign}'\n`
}
