/**
 * OpenAI's error object, so clients (and the gateway) can treat this engine like any OpenAI-compatible server.
 * The message is always safe to show: it names the problem, never echoes message content.
 */
export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  toBody() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = 'invalid_value') =>
  new EngineError(400, message, 'invalid_request_error', param, code);
