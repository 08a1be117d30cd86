/**
 * Errors raised while building the infrastructure: a construct prop or a
 * context value that cannot make a working stack. Raised at synth time,
 * before anything is bundled or deployed.
 */

export type BridgeConfigErrorCode = 'INVALID_PROP' | 'INVALID_CONTEXT';

/** A setting was refused; the message names the value, the rule and the fix. */
export class BridgeConfigError extends Error {
  override readonly name = 'BridgeConfigError';
  readonly code: BridgeConfigErrorCode;
  /** The prop or context key at fault, e.g. `pushBatchSize`. */
  readonly setting: string;

  constructor(
    code: BridgeConfigErrorCode,
    setting: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.setting = setting;
  }
}
