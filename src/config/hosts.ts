// Where the credential goes. The client secret (or a signed assertion) is sent to authority_host,
// so that URL must name a Microsoft Entra ID sign-in host, unless the configuration says in so many
// words that another host is meant (an emulator, a proxy the user runs). A URL with user-info
// (`https://login.microsoftonline.com@evil.example`) reads as one host and calls the other, so
// neither URL may carry it.
import type { JsonObject } from "../protocol/airbyte.js";
import type { Violation } from "./ajv.js";

/**
 * Microsoft Entra ID's sign-in hosts, public and sovereign clouds: the instance discovery aliases
 * that msal-common hardcodes (authority/AuthorityMetadata), the list msal itself trusts without asking.
 */
export const MICROSOFT_SIGN_IN_HOSTS: readonly string[] = [
  // public cloud
  "login.microsoftonline.com",
  "login.microsoft.com",
  "login.windows.net",
  // US Government (GCC High, DoD)
  "login.microsoftonline.us",
  "login.usgovcloudapi.net",
  "login-us.microsoftonline.com",
  // China (21Vianet)
  "login.partner.microsoftonline.cn",
  "login.chinacloudapi.cn",
  // Germany (the retired Microsoft Cloud Deutschland) and the sovereign clouds of France, Germany, Singapore
  "login.microsoftonline.de",
  "login.sovcloud-identity.fr",
  "login.sovcloud-identity.de",
  "login.sovcloud-identity.sg",
];

export function isMicrosoftSignInHost(url: URL): boolean {
  return url.port === "" && MICROSOFT_SIGN_IN_HOSTS.includes(url.hostname.toLowerCase());
}

function parsed(value: unknown): URL | undefined {
  if (typeof value !== "string") return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** What is wrong with the hosts of a validated configuration (schema defaults applied), and what to say about a custom authority. */
export function hostProblems(c: JsonObject): { readonly problems: Violation[]; readonly notices: string[] } {
  const problems: Violation[] = [];
  const notices: string[] = [];
  for (const key of ["web_api_endpoint", "authority_host"]) {
    const url = parsed(c[key]);
    if (url !== undefined && (url.username !== "" || url.password !== "")) {
      problems.push({ path: `/${key}`, message: "must not hold a user name or password before an @ (user-info): the request would go to the host after the @" });
    }
  }
  const authority = parsed(c["authority_host"]);
  if (authority !== undefined && !isMicrosoftSignInHost(authority)) {
    if (c["allow_custom_authority_host"] === true) {
      notices.push(`authority_host ${authority.host} is not a Microsoft Entra ID sign-in host; the credential is sent there because allow_custom_authority_host is true`);
    } else {
      problems.push({
        path: "/authority_host",
        message: `names ${authority.host}, which is not a Microsoft Entra ID sign-in host (such as login.microsoftonline.com, login.microsoftonline.us, login.partner.microsoftonline.cn), and the credential would be sent there; set allow_custom_authority_host to true if that host is meant (an emulator, a proxy you run)`,
      });
    }
  }
  return { problems, notices };
}
