import { ConnectorError } from "../protocol/errors.js";
import type { ErrorContext, FailureType } from "../protocol/errors.js";

export class PipelineError extends ConnectorError {
  constructor(code: string, message: string, failureType: FailureType, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(code, message, failureType, context, options);
  }
}
