import { describe, expect, it } from "vitest";
import { generateKeyPairSync } from "node:crypto";
import { assertNoSecrets, findPrivateKeyShapes, findSecretLeaks, findTokenShapes } from "./no-secrets.js";

const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJodHRwczovLzEyNy4wLjAuMSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
const secrets = [
  { label: "client secret", value: "emulator-main-secret" },
  { label: "access token", value: jwt },
];

describe("no-secrets", () => {
  it("finds nothing in clean output", () => {
    expect(findSecretLeaks({ stdout: '{"type":"LOG"}\n', stderr: "starting\n" }, secrets)).toEqual([]);
  });

  it("finds a secret verbatim and names the line, not the value", () => {
    const leaks = findSecretLeaks({ stderr: "a\nb\nsecret=emulator-main-secret\n" }, secrets);
    expect(leaks).toEqual([{ where: "stderr", secret: "client secret", form: "verbatim", line: 3 }]);
    expect(() => assertNoSecrets({ stderr: "emulator-main-secret" }, secrets)).toThrow(/client secret \(verbatim\) in stderr/);
    expect(() => assertNoSecrets({ stderr: "emulator-main-secret" }, secrets)).not.toThrow(/emulator-main/);
  });

  it("finds encoded forms and parts of a token", () => {
    const b64 = Buffer.from("emulator-main-secret").toString("base64");
    expect(findSecretLeaks({ x: `auth ${b64}` }, secrets)[0]?.form).toBe("base64");
    expect(findSecretLeaks({ x: "a%20b%26c%3Dd%2Fe%2Bf-long" }, [{ label: "s", value: "a b&c=d/e+f-long" }])[0]?.form).toBe("url-encoded");
    const signature = jwt.split(".")[2] ?? "";
    expect(findSecretLeaks({ x: `sig ${signature}` }, secrets)[0]).toMatchObject({ secret: "access token", form: "jwt-part" });
  });

  it("finds one line of a private key, and any PEM private key it was not told about", () => {
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "p" }).toString();
    const line = key.split("\n")[5] ?? "";
    expect(findSecretLeaks({ stderr: `oops ${line}\n` }, [{ label: "private key", value: key }])[0]).toMatchObject({ secret: "private key", form: "pem-line" });
    expect(findPrivateKeyShapes({ stdout: "ok\n", stderr: `x\n${key}` })).toEqual([{ where: "stderr", line: 2 }]);
    expect(findPrivateKeyShapes({ stdout: "-----BEGIN CERTIFICATE-----" })).toEqual([]);
  });

  it("spots token shapes it was not told about", () => {
    expect(findTokenShapes({ stderr: `Authorization: Bearer ${jwt}` })).toEqual([{ where: "stderr", line: 1 }]);
    expect(findTokenShapes({ stderr: "no token here" })).toEqual([]);
  });
});
