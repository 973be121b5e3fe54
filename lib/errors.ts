/** secbot's error classes: a base that sets `name` and carries a stable `code`, and keeps the original as `cause`. */

export abstract class SecbotError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The environment does not describe a runnable secbot. */
export class ConfigError extends SecbotError {
  readonly code = 'config_invalid';
  constructor(
    message: string,
    readonly variable?: string,
  ) {
    super(message);
  }
}
