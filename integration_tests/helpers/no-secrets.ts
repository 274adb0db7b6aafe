// Looks for secrets in what a run left behind: stdout, stderr, dead-letter files, error messages.
// Reusable by any suite: collect the secrets you know (client secrets, access tokens you captured)
// and pass every text the connector produced.
//
// A token is also looked for by its parts: a JWT (an access token, a client assertion, a federated
// token) leaks just as badly when only its signature or payload is printed, a private key when one
// line of it is, and a secret when it is printed URL- or base64-encoded.

export interface SecretLeak {
  /** Which text leaked (e.g. "stdout", "stderr", "dead-letter.jsonl"). */
  readonly where: string;
  /** Which secret, by label only (never the value). */
  readonly secret: string;
  /** The form in which it appeared: "verbatim", "url-encoded", "base64", "jwt-part". */
  readonly form: string;
  /** 1-based line of the first occurrence. */
  readonly line: number;
}

export interface LabelledSecret {
  readonly label: string;
  readonly value: string;
}

/** The shortest fragment worth searching for; shorter ones give false positives. */
const MIN_FRAGMENT = 12;

function formsOf(secret: string): Array<{ form: string; value: string }> {
  const forms = [
    { form: "verbatim", value: secret },
    { form: "url-encoded", value: encodeURIComponent(secret) },
    { form: "json-escaped", value: JSON.stringify(secret).slice(1, -1) },
    { form: "base64", value: Buffer.from(secret, "utf8").toString("base64").replace(/=+$/, "") },
  ];
  // A private key (or a PEM holding one): any one line of its base64 body leaks it as badly.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(secret)) {
    for (const line of secret.split(/\r?\n/)) {
      const body = line.trim();
      if (body.length >= 40 && !body.startsWith("-----") && !body.includes(":")) forms.push({ form: "pem-line", value: body });
    }
  }
  const parts = secret.split(".");
  if (parts.length === 3) {
    // A JWT: header.payload.signature. The header alone is not secret (it is the same for every token).
    for (const [i, part] of parts.entries()) {
      if (i > 0 && part.length >= MIN_FRAGMENT) forms.push({ form: "jwt-part", value: part });
    }
  }
  const seen = new Set<string>();
  return forms.filter((f) => f.value.length >= Math.min(MIN_FRAGMENT, secret.length) && !seen.has(f.value) && seen.add(f.value));
}

/** Every place where one of the secrets appears in one of the texts. */
export function findSecretLeaks(
  texts: Readonly<Record<string, string>>,
  secrets: readonly LabelledSecret[],
): SecretLeak[] {
  const leaks: SecretLeak[] = [];
  for (const [where, text] of Object.entries(texts)) {
    for (const secret of secrets) {
      if (secret.value === "") continue;
      for (const { form, value } of formsOf(secret.value)) {
        const at = text.indexOf(value);
        if (at >= 0) {
          leaks.push({ where, secret: secret.label, form, line: text.slice(0, at).split("\n").length });
          break;
        }
      }
    }
  }
  return leaks;
}

/** Throws with a description that names places and labels, never the secret itself. */
export function assertNoSecrets(texts: Readonly<Record<string, string>>, secrets: readonly LabelledSecret[]): void {
  const leaks = findSecretLeaks(texts, secrets);
  if (leaks.length > 0) {
    const list = leaks.map((l) => `${l.secret} (${l.form}) in ${l.where} line ${l.line}`).join("; ");
    throw new Error(`secret leaked: ${list}`);
  }
}

/**
 * Anything shaped like a bearer token or a JWT, whether or not we know its value: catches tokens we
 * could not capture. Returns the places only.
 */
export function findTokenShapes(texts: Readonly<Record<string, string>>): Array<{ where: string; line: number }> {
  const jwt = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;
  const bearer = /Bearer\s+[A-Za-z0-9._~+/-]{20,}/i;
  const out: Array<{ where: string; line: number }> = [];
  for (const [where, text] of Object.entries(texts)) {
    const lines = text.split("\n");
    for (const [i, line] of lines.entries()) {
      if (jwt.test(line) || bearer.test(line)) {
        out.push({ where, line: i + 1 });
        break;
      }
    }
  }
  return out;
}

/**
 * Anything shaped like a PEM private key (plain, RSA, EC or encrypted), whether or not we know it:
 * a certificate credential's key must never be printed. Returns the places only.
 */
export function findPrivateKeyShapes(texts: Readonly<Record<string, string>>): Array<{ where: string; line: number }> {
  const out: Array<{ where: string; line: number }> = [];
  for (const [where, text] of Object.entries(texts)) {
    const at = text.search(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    if (at >= 0) out.push({ where, line: text.slice(0, at).split("\n").length });
  }
  return out;
}
