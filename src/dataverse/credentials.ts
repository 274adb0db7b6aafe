// The material behind each sign-in method, read and checked before Entra ID sees it: a client
// secret as given; a certificate's thumbprint, private key (decrypted with its passphrase) and
// chain; a federated token file, read again for every token request because the platform rotates
// it (Azure Workload Identity projects a Kubernetes service account token that lives about an hour).
// No value read here is ever put in a message.
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFile as fsReadFile } from "node:fs/promises";
import type { CredentialConfig } from "../config/types.js";
import { AuthError } from "./auth-error.js";

export type FileReader = (path: string) => Promise<string>;

export const readTextFile: FileReader = (path) => fsReadFile(path, "utf8");

/** What a credential is, for logs and `check`: never a value, only its kind and public facts. */
export interface CredentialInfo {
  readonly method: CredentialConfig["kind"];
  /** e.g. "certificate (SHA-1 thumbprint 3F2A…)", "client secret", "workload identity federation (token file /var/run/…)". */
  readonly description: string;
  /** When the credential stops working, if known (a certificate's notAfter). */
  readonly expiresAt?: Date;
}

export type ResolvedCredential =
  | { readonly kind: "client_secret"; readonly info: CredentialInfo; readonly secret: string }
  | {
      readonly kind: "certificate";
      readonly info: CredentialInfo;
      /** Hex thumbprint of the leaf certificate: SHA-256 or SHA-1 as configured. */
      readonly thumbprint: string;
      readonly sha256: boolean;
      /** PKCS#8 PEM, decrypted: msal-node signs with it. */
      readonly privateKey: string;
      /** The certificate chain PEM, when x5c is to be sent. */
      readonly x5c?: string;
    }
  | { readonly kind: "workload_identity"; readonly info: CredentialInfo; readonly readAssertion: () => Promise<string> };

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_BLOCK = /-----BEGIN (?:ENCRYPTED |RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:ENCRYPTED |RSA |EC )?PRIVATE KEY-----/;

function credentialError(code: ConstructorParameters<typeof AuthError>[0], message: string, cause?: unknown): AuthError {
  return new AuthError(code, "", "credentials", message, false, cause === undefined ? undefined : { code: errorCode(cause) });
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "error";
}

async function pemOf(source: { readonly pem: string } | { readonly path: string }, what: "certificate" | "private key", readFile: FileReader): Promise<string> {
  if ("pem" in source) return source.pem;
  try {
    return await readFile(source.path);
  } catch (err) {
    const hint = "check the path and that the connector's user may read it";
    const code = errorCode(err);
    throw credentialError(
      "CREDENTIAL_UNREADABLE",
      what === "certificate" ? `cannot read the certificate file ${source.path} (${code}); ${hint}` : `cannot read the private key file ${source.path} (${code}); ${hint}`,
      err,
    );
  }
}

function loadKey(pem: string, passphrase: string | undefined): KeyObject {
  const block = KEY_BLOCK.exec(pem)?.[0];
  if (block === undefined) {
    throw credentialError("PRIVATE_KEY_INVALID", "no private key found: give private_key or private_key_path, or append the key's PEM block to the certificate's PEM");
  }
  const encrypted = block.startsWith("-----BEGIN ENCRYPTED") || /Proc-Type: 4,ENCRYPTED/.test(block);
  if (encrypted && passphrase === undefined) {
    throw credentialError("PRIVATE_KEY_PASSPHRASE", "the private key is encrypted: set private_key_passphrase");
  }
  try {
    return createPrivateKey(passphrase === undefined ? { key: block, format: "pem" } : { key: block, format: "pem", passphrase });
  } catch (err) {
    if (encrypted) throw credentialError("PRIVATE_KEY_PASSPHRASE", "the private key cannot be decrypted: check private_key_passphrase", err);
    throw credentialError("PRIVATE_KEY_INVALID", "the private key is not a PEM key Node can read (PKCS#8, PKCS#1 or encrypted PKCS#8)", err);
  }
}

function hex(fingerprint: string): string {
  return fingerprint.replace(/:/g, "").toUpperCase();
}

async function resolveCertificate(c: Extract<CredentialConfig, { kind: "certificate" }>, readFile: FileReader): Promise<ResolvedCredential> {
  const certPem = await pemOf(c.certificate, "certificate", readFile);
  const blocks = certPem.match(CERT_BLOCK) ?? [];
  const leafPem = blocks[0];
  if (leafPem === undefined) throw credentialError("CERTIFICATE_INVALID", "the certificate is not PEM text (-----BEGIN CERTIFICATE-----); convert a .cer or .pfx with openssl first");
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
  } catch (err) {
    throw credentialError("CERTIFICATE_INVALID", "the certificate's PEM cannot be read as an X.509 certificate", err);
  }
  const keyPem = c.privateKey === undefined ? certPem : await pemOf(c.privateKey, "private key", readFile);
  const key = loadKey(keyPem, c.passphrase);
  if (key.asymmetricKeyType !== "rsa" && key.asymmetricKeyType !== "rsa-pss") {
    throw credentialError("PRIVATE_KEY_INVALID", `the private key is ${key.asymmetricKeyType ?? "not RSA"}; Entra ID client assertions are signed with an RSA key (RS256 or PS256)`);
  }
  if (!leaf.checkPrivateKey(key)) throw credentialError("PRIVATE_KEY_MISMATCH", "the private key does not belong to the certificate; give the key that was generated with it");
  const sha256 = c.thumbprint === "sha256";
  const thumbprint = hex(sha256 ? leaf.fingerprint256 : leaf.fingerprint);
  const expiresAt = new Date(leaf.validTo);
  return {
    kind: "certificate",
    info: {
      method: "certificate",
      description: `certificate with ${sha256 ? "SHA-256" : "SHA-1"} thumbprint ${thumbprint}${"path" in c.certificate ? ` (${c.certificate.path})` : ""}`,
      ...(Number.isNaN(expiresAt.getTime()) ? {} : { expiresAt }),
    },
    thumbprint,
    sha256,
    privateKey: key.export({ type: "pkcs8", format: "pem" }).toString(),
    ...(c.sendChain ? { x5c: blocks.join("\n") } : {}),
  };
}

/** Reads what a credential needs; a problem is an AuthError on field "credentials" that names it. */
export async function resolveCredential(c: CredentialConfig, readFile: FileReader = readTextFile): Promise<ResolvedCredential> {
  switch (c.kind) {
    case "client_secret":
      return { kind: "client_secret", info: { method: "client_secret", description: "client secret" }, secret: c.secret };
    case "certificate":
      return resolveCertificate(c, readFile);
    case "workload_identity": {
      const file = c.tokenFile;
      return {
        kind: "workload_identity",
        info: { method: "workload_identity", description: `workload identity federation (token file ${file})` },
        // Read for every token request: the platform replaces the file before the token expires.
        readAssertion: async () => {
          let text: string;
          try {
            text = await readFile(file);
          } catch (err) {
            throw credentialError(
              "CREDENTIAL_UNREADABLE",
              `cannot read the federated token file ${file} (${errorCode(err)}); on AKS, label the pod azure.workload.identity/use: "true" and annotate its service account with the client id`,
              err,
            );
          }
          const token = text.trim();
          if (token === "") throw credentialError("CREDENTIAL_UNREADABLE", `the federated token file ${file} is empty`);
          return token;
        },
      };
    }
  }
}
