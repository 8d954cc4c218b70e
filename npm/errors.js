import { ERROR_CODES } from "./error-codes.js";

export { ERROR_CODES };

const codes = new Set(ERROR_CODES);

/** True when `error` is an error this library threw (an `EdgeSessionError` with a known `.code`). */
export function isEdgeSessionError(error) {
  return (
    error instanceof Error &&
    error.name === "EdgeSessionError" &&
    codes.has(/** @type {{ code?: unknown }} */ (error).code)
  );
}
