// The bearer gate in front of the Web API: the token must be this emulator's and live, its app an
// application user of the environment; CallerObjectId / MSCRMCallerID impersonate another
// application user (impersonate-another-user-web-api) and MSCRM.BypassBusinessLogicExecution needs
// its privilege. What passes is the Caller every operation runs as.
import type { AppRegistration, Caller, Privilege } from "./types.js";
import type { TokenService } from "./tokens.js";
import { type DataverseError, errors } from "./errors.js";

export type GateResult =
  | { readonly ok: true; readonly app: AppRegistration; readonly caller: Caller }
  /** error undefined: no live token of this emulator (401 with WWW-Authenticate). */
  | { readonly ok: false; readonly error: DataverseError | undefined };

class EmulatorCaller implements Caller {
  constructor(
    readonly clientId: string,
    readonly systemUserId: string,
    readonly businessUnitId: string,
    readonly organizationId: string,
    private readonly privileges: Readonly<Record<string, readonly Privilege[]>>,
    private readonly special: readonly string[],
    /** Impersonation: effective rights are the intersection with the impersonated user's. */
    private readonly also?: Caller,
  ) {}

  can(table: string, privilege: Privilege): boolean {
    const own = (this.privileges[table]?.includes(privilege) ?? false) || (this.privileges["*"]?.includes(privilege) ?? false);
    return own && (this.also === undefined || this.also.can(table, privilege));
  }

  hasSpecial(privilege: string): boolean {
    return this.special.includes(privilege);
  }
}

export class BearerGate {
  readonly #apps = new Map<string, AppRegistration>();
  readonly #callers = new Map<string, EmulatorCaller>();

  constructor(
    apps: readonly AppRegistration[],
    private readonly businessUnitId: string,
    private readonly organizationId: string,
  ) {
    for (const app of apps) this.#apps.set(app.clientId.toLowerCase(), app);
  }

  /** The bearer token of an `Authorization` header, if it has one. */
  static bearerOf(authorization: string | undefined): string | undefined {
    return authorization !== undefined && /^bearer /i.test(authorization) ? authorization.slice(7).trim() : undefined;
  }

  /** Checks the token now (a revoke-tokens fault may have just invalidated it) and who it may act as. */
  pass(tokens: TokenService, bearer: string | undefined, headers: Readonly<Record<string, string>>): GateResult {
    const verified = bearer === undefined ? undefined : tokens.verify(bearer);
    if (verified === undefined || !verified.ok) return { ok: false, error: undefined };
    const app = this.#apps.get(verified.claims.appid.toLowerCase());
    if (app?.applicationUser === undefined) return { ok: false, error: errors.notAMember() };
    const impersonation = this.#impersonate(this.#callerFor(app), headers);
    if ("error" in impersonation) return { ok: false, error: impersonation.error };
    const caller = impersonation.caller;
    const bypass = headers["mscrm.bypassbusinesslogicexecution"];
    if (bypass !== undefined && !caller.hasSpecial("prvBypassCustomBusinessLogic")) {
      // The docs require prvBypassCustomBusinessLogic but do not quote the error; PrivilegeDenied is
      // what Dataverse uses for a missing privilege.
      return { ok: false, error: errors.missingSpecialPrivilege("prvBypassCustomBusinessLogic") };
    }
    return { ok: true, app, caller };
  }

  #callerFor(app: AppRegistration): EmulatorCaller {
    let caller = this.#callers.get(app.clientId);
    if (caller === undefined) {
      const user = app.applicationUser;
      caller = new EmulatorCaller(
        app.clientId,
        user?.systemUserId ?? "",
        this.businessUnitId,
        this.organizationId,
        user?.privileges ?? {},
        user?.specialPrivileges ?? [],
      );
      this.#callers.set(app.clientId, caller);
    }
    return caller;
  }

  /** CallerObjectId (Entra object id) and MSCRMCallerID (systemuserid), LEARN/impersonate-another-user-web-api. */
  #impersonate(caller: Caller, headers: Readonly<Record<string, string>>): { caller: Caller } | { error: DataverseError } {
    const objectId = headers["callerobjectid"];
    const systemUserId = headers["mscrmcallerid"];
    if (objectId === undefined && systemUserId === undefined) return { caller };
    if (!caller.hasSpecial("prvActOnBehalfOfAnotherUser")) {
      // Documented requirement; the exact error text is not published.
      return { error: errors.missingSpecialPrivilege("prvActOnBehalfOfAnotherUser") };
    }
    const wanted = (objectId ?? systemUserId ?? "").toLowerCase();
    const target = [...this.#apps.values()].find((a) =>
      objectId !== undefined ? a.objectId.toLowerCase() === wanted : a.applicationUser?.systemUserId.toLowerCase() === wanted,
    );
    const user = target?.applicationUser;
    if (target === undefined || user === undefined) {
      // The docs are silent on an unknown impersonated user; a missing systemuser row is the plausible answer.
      return { error: errors.notFoundById("systemuser", wanted) };
    }
    const impersonated = this.#callerFor(target);
    return {
      caller: new EmulatorCaller(
        impersonated.clientId,
        user.systemUserId,
        this.businessUnitId,
        this.organizationId,
        user.privileges,
        user.specialPrivileges ?? [],
        caller,
      ),
    };
  }
}
