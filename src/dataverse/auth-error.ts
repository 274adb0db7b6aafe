// The one error type of signing in, shared by auth-refusal.ts (Entra ID's answers) and credentials.ts
// (the local material: certificate, key, token file). It never carries a secret or a token.

/** Which configuration value the failure points at. */
export type AuthField = "tenant_id" | "client_id" | "client_secret" | "credentials" | "authority_host" | "web_api_endpoint" | "unknown";

export type AuthErrorCode =
  | "INVALID_SECRET"
  | "SECRET_EXPIRED"
  | "UNKNOWN_CLIENT"
  | "UNKNOWN_TENANT"
  | "RESOURCE_NOT_IN_TENANT"
  | "MISSING_SECRET"
  | "AUTHORITY_UNREACHABLE"
  | "AUTH_FAILED"
  // Entra ID refused a client assertion (certificate or federated token).
  | "CERTIFICATE_REFUSED"
  | "ASSERTION_EXPIRED"
  | "ASSERTION_INVALID"
  | "NO_FEDERATED_MATCH"
  // The local material cannot be used (before anything is sent).
  | "CREDENTIAL_UNREADABLE"
  | "CERTIFICATE_INVALID"
  | "PRIVATE_KEY_INVALID"
  | "PRIVATE_KEY_PASSPHRASE"
  | "PRIVATE_KEY_MISMATCH";

export class AuthError extends Error {
  override readonly name = "AuthError";
  readonly code: AuthErrorCode;
  /** e.g. "AADSTS7000215"; "" when Entra ID gave no number. */
  readonly aadsts: string;
  readonly field: AuthField;
  readonly retryable: boolean;
  constructor(code: AuthErrorCode, aadsts: string, field: AuthField, message: string, retryable: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.aadsts = aadsts;
    this.field = field;
    this.retryable = retryable;
  }
}

/** Refusals of the credential itself: another credential of the same app may still work. */
export function isCredentialRefusal(err: AuthError): boolean {
  switch (err.code) {
    case "INVALID_SECRET":
    case "SECRET_EXPIRED":
    case "MISSING_SECRET":
    case "CERTIFICATE_REFUSED":
    case "ASSERTION_EXPIRED":
    case "ASSERTION_INVALID":
    case "NO_FEDERATED_MATCH":
    case "CREDENTIAL_UNREADABLE":
    case "CERTIFICATE_INVALID":
    case "PRIVATE_KEY_INVALID":
    case "PRIVATE_KEY_PASSPHRASE":
    case "PRIVATE_KEY_MISMATCH":
      return true;
    case "AUTH_FAILED":
      return err.field === "client_secret" || err.field === "credentials";
    default:
      return false;
  }
}
