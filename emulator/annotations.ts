// Instance annotations a client asks for with `Prefer: odata.include-annotations` (query-data-web-api,
// "Formatted values"; compose-http-requests-handle-errors, "Include additional details with errors").

export const ASSOCIATED_NAV = "Microsoft.Dynamics.CRM.associatednavigationproperty";
export const LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname";
export const FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue";
export const TOTAL_RECORD_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount";
export const TOTAL_RECORD_COUNT_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded";
export const HELP_LINK = "Microsoft.PowerApps.CDS.HelpLink";
export const INNER_ERROR_MESSAGE = "Microsoft.PowerApps.CDS.InnerError.Message";

/**
 * `odata.include-annotations="*"`, `"Microsoft.Dynamics.CRM.*"`, `"OData.Community.Display.V1.FormattedValue"`
 * or a comma-separated list of those (OData 4.01 8.2.8.4); undefined when none were asked for.
 */
export function annotationFilter(preference: string | undefined): ((name: string) => boolean) | undefined {
  if (preference === undefined) return undefined;
  const patterns = preference.split(",").map((p) => p.trim()).filter((p) => p !== "");
  return (name) =>
    patterns.some((p) => {
      if (p.startsWith("-")) return false;
      if (p === "*") return true;
      if (p.endsWith(".*")) return name.startsWith(p.slice(0, -1));
      return p === name;
    });
}
