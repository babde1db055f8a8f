import { HttpError } from './openai-wire.js';

/**
 * Azure OpenAI additions to the OpenAI wire format (../shared/protocols/azure-openai.md):
 * content-filter annotations, Azure's error bodies, and the api-version rule of the classic
 * deployment-scoped surface.
 */

/** The word that makes the emulated Azure content filter block a prompt. */
export const FORBIDDEN_WORD = 'forbidden-content';

const SAFE = { filtered: false, severity: 'safe' } as const;

/** `content_filter_results` of an unfiltered choice (`AzureContentFilterResultForChoice`). */
export function choiceFilterResults(): Record<string, unknown> {
  return {
    hate: SAFE,
    protected_material_code: { filtered: false, detected: false },
    protected_material_text: { filtered: false, detected: false },
    self_harm: SAFE,
    sexual: SAFE,
    violence: SAFE,
  };
}

/** Top-level `prompt_filter_results` of an unfiltered prompt. */
export function promptFilterResults(): Array<Record<string, unknown>> {
  return [
    {
      prompt_index: 0,
      content_filter_results: {
        hate: SAFE,
        jailbreak: { filtered: false, detected: false },
        self_harm: SAFE,
        sexual: SAFE,
        violence: SAFE,
      },
    },
  ];
}

/**
 * The first chunk of every Azure stream: no choices, empty id/model/object, `created: 0`, only
 * the prompt filter results. Naive clients that index `choices[0]` crash on it.
 */
export function azureFirstChunk(): Record<string, unknown> {
  return {
    choices: [],
    created: 0,
    id: '',
    model: '',
    object: '',
    prompt_filter_results: promptFilterResults(),
  };
}

/** Whether the emulated content filter blocks this prompt (the last user text has {@link FORBIDDEN_WORD}). */
export function isForbidden(lastUserText: string): boolean {
  return lastUserText.toLowerCase().includes(FORBIDDEN_WORD);
}

/** HTTP 400 `content_filter`, as Azure answers a prompt blocked by its content management policy. */
export function contentFilterError(): HttpError {
  return new HttpError(400, {
    error: {
      message:
        "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
      type: null,
      param: 'prompt',
      code: 'content_filter',
      status: 400,
      innererror: {
        code: 'ResponsibleAIPolicyViolation',
        content_filter_result: {
          hate: { filtered: true, severity: 'medium' },
          jailbreak: { filtered: false, detected: false },
          self_harm: SAFE,
          sexual: SAFE,
          violence: SAFE,
        },
      },
    },
  });
}

/** 401 as Azure answers a missing or wrong `api-key`. */
export function azureUnauthorized(): HttpError {
  return new HttpError(401, {
    error: {
      code: '401',
      message:
        'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
    },
  });
}

/** 404 `Resource not found`: Azure's answer to an unknown path or a missing `api-version`. */
export function azureNotFound(): HttpError {
  return new HttpError(404, { error: { code: '404', message: 'Resource not found' } });
}

/** 404 `DeploymentNotFound` for a deployment the resource does not have. */
export function deploymentNotFound(deployment: string): HttpError {
  return new HttpError(404, {
    error: {
      code: 'DeploymentNotFound',
      message: `The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again. (deployment: ${deployment})`,
    },
  });
}

/**
 * Checks the classic surface's `api-version`: missing → 404 (what Azure really answers),
 * not shaped like `2024-10-21` or `2025-03-01-preview` → 400 `BadRequest`.
 */
export function checkApiVersion(apiVersion: string | null): void {
  if (apiVersion === null || apiVersion === '') throw azureNotFound();
  if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(apiVersion)) {
    throw new HttpError(400, {
      error: { code: 'BadRequest', message: 'API version not supported' },
    });
  }
}
