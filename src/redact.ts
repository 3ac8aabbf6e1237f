// Secrets never reach a log line. AWS quotes request material back in some
// error messages (a signature mismatch quotes the canonical request, session
// token included), and a URL may carry a user:password. Applied where such
// text enters the program (AWS errors, metadata errors, settings), so every
// line that logs it later is clean.

const hidden = "[redacted]"

const rules: ReadonlyArray<readonly [RegExp, string]> = [
  // `x-amz-security-token:VALUE` (a canonical request), `X-Amz-Security-Token=VALUE` (a query string)
  [/(x-amz-security-token\s*[:=]\s*)[^\s&'"<,;]+/gi, `$1${hidden}`],
  // `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`
  [/(authorization\s*[:=]\s*)[^\n'"<]+/gi, `$1${hidden}`],
  // `Signature=hex`, `X-Amz-Signature=hex`, S3's `<SignatureProvided>hex`
  [/((?:x-amz-)?signature(?:provided)?\s*(?:[:=>]|&gt;)\s*)[0-9a-f]{16,}/gi, `$1${hidden}`],
  // `Credential=AKIA…/20240101/…`, `X-Amz-Credential=…`
  [/((?:x-amz-)?credential\s*=\s*)[^\s&'",;<]+/gi, `$1${hidden}`],
  // Credentials as JSON (the container credentials endpoint, STS)
  [/("(?:Token|SessionToken|SecretAccessKey|sessionToken|secretAccessKey)"\s*:\s*")[^"]*/g, `$1${hidden}`],
  // STS session tokens wherever they appear: base64 of a protobuf with these fixed prefixes
  [/\b(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9+/=]*/g, hidden],
  // `scheme://user:password@host`
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"<]*@/gi, `$1${hidden}@`]
]

/** The text with tokens, signatures, credentials and URL passwords replaced by `[redacted]`. */
export const redact = (text: string): string =>
  rules.reduce((t, [pattern, replacement]) => t.replace(pattern, replacement), text)
