import { type ErrorCode, GatewayError, openAIErrorType } from '../errors/index.js';

/**
 * Errors the Responses and Conversations APIs answer with their own messages, types and codes
 * (copied from the OpenAI API where it documents them, see ../shared/specs/responses-api.md).
 * They are GatewayErrors, so the rest of the gateway treats them like any other; the surfaces
 * render them with {@link renderResponsesError}, which prefers the API's own `type` and `code`.
 */
export class RuntimeError extends GatewayError {
  /** `error.code` as the OpenAI API sends it (null where it sends null). */
  readonly apiCode: string | null;
  /** `error.type` as the OpenAI API sends it. */
  readonly apiType: string;

  constructor(
    message: string,
    options: {
      status: number;
      param?: string | null;
      apiCode?: string | null;
      apiType?: string;
      code?: ErrorCode;
    },
  ) {
    const code = options.code ?? (options.status === 404 ? 'not_found' : 'invalid_request');
    super(message, {
      code,
      status: options.status,
      param: options.param ?? null,
      retryable: false,
      failover: false,
    });
    this.name = 'RuntimeError';
    this.apiCode = options.apiCode === undefined ? code : options.apiCode;
    this.apiType = options.apiType ?? 'invalid_request_error';
  }
}

/** `{error: {message, type, param, code}}` for any GatewayError, with the API's codes for RuntimeErrors. */
export function renderResponsesError(error: GatewayError): {
  error: { message: string; type: string; param: string | null; code: string | null };
} {
  if (error instanceof RuntimeError) {
    return {
      error: {
        message: error.message,
        type: error.apiType,
        param: error.param,
        code: error.apiCode,
      },
    };
  }
  return {
    error: {
      message: error.message,
      type: openAIErrorType(error.status),
      param: error.param,
      code: error.code,
    },
  };
}

/** 404 for a response that does not exist, was not stored, expired, or belongs to another tenant. */
export function responseNotFound(id: string): RuntimeError {
  return new RuntimeError(`Response with id '${id}' not found.`, { status: 404, apiCode: null });
}

/** 400 for a `previous_response_id` that cannot be continued. */
export function previousResponseNotFound(id: string): RuntimeError {
  return new RuntimeError(`Previous response with id '${id}' not found.`, {
    status: 400,
    param: 'previous_response_id',
    apiCode: 'previous_response_not_found',
  });
}

/** 404 for a conversation that does not exist (or belongs to another tenant). */
export function conversationNotFound(id: string, param: string | null = null): RuntimeError {
  return new RuntimeError(`Conversation with id '${id}' not found.`, {
    status: 404,
    param,
    apiCode: null,
  });
}

/** 404 for an item. */
export function itemNotFound(id: string): RuntimeError {
  return new RuntimeError(`Item with id '${id}' not found.`, { status: 404, apiCode: null });
}

/** The API's exact answer to an input item whose id is already in the context. */
export function duplicateItem(id: string): RuntimeError {
  return new RuntimeError(
    `Duplicate item found with id ${id}. Remove duplicate items from your input and try again.`,
    { status: 400, param: 'input', apiCode: null },
  );
}

/** 400 for `previous_response_id` together with `conversation`. */
export function mutuallyExclusive(): RuntimeError {
  return new RuntimeError(
    "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
    {
      status: 400,
      apiCode: 'mutually_exclusive_parameters',
    },
  );
}

/** 400 when the context does not fit the model's window (truncation disabled, or nothing left to drop). */
export function contextTooLong(tokens: number, window: number): RuntimeError {
  return new RuntimeError(
    `Your input exceeds the context window of this model (${tokens} tokens counted, ${window} allowed). Please adjust your input, set truncation to "auto", or compact the conversation, and try again.`,
    {
      status: 400,
      param: 'input',
      apiCode: 'context_length_exceeded',
      code: 'context_length_exceeded',
    },
  );
}

/** 400 for a field value the API rejects. */
export function invalidParam(
  message: string,
  param: string | null,
  apiCode: string | null = 'invalid_value',
): RuntimeError {
  return new RuntimeError(message, { status: 400, param, apiCode });
}

/** 400 for something this gateway does not (yet) support, named clearly instead of ignored. */
export function unsupportedParam(message: string, param: string): RuntimeError {
  return new RuntimeError(message, {
    status: 400,
    param,
    apiCode: 'unsupported_parameter',
    code: 'unsupported_parameter',
  });
}
