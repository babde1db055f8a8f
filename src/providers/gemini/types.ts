/**
 * The Gemini / Vertex AI `generateContent` wire format (camelCase JSON), as far as the adapter
 * reads or writes it. Source: @google/genai 2.32.0 typings; see
 * ../shared/protocols/gemini-vertex.md §2–§4. Every object keeps an index signature so that
 * fields we do not model survive `provider_options.gemini` merging.
 */

/** One part of a content turn. Exactly one of the data fields is set. */
export interface GeminiPart {
  text?: string;
  /** True for a thought summary (reasoning), only returned when `includeThoughts` is set. */
  thought?: boolean;
  /** Opaque signature of the model's reasoning state; must come back on the same part. */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: { name: string; args?: Record<string, unknown>; id?: string };
  functionResponse?: { name: string; response: Record<string, unknown>; id?: string };
  [key: string]: unknown;
}

/** One turn. Roles are only `user` and `model`. */
export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

/** A function the model may call. `parameters` is Gemini's OpenAPI-subset schema. */
export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

/** `POST …:generateContent` body. */
export interface GenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
  tools?: Array<{ functionDeclarations: GeminiFunctionDeclaration[]; [key: string]: unknown }>;
  toolConfig?: {
    functionCallingConfig: {
      mode: 'AUTO' | 'ANY' | 'NONE' | 'VALIDATED';
      allowedFunctionNames?: string[];
    };
  };
  generationConfig?: Record<string, unknown>;
  [key: string]: unknown;
}

/** `usageMetadata`: `promptTokenCount` includes cached tokens; `candidatesTokenCount` excludes thoughts. */
export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  cachedContentTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  totalTokenCount?: number;
  [key: string]: unknown;
}

/** One candidate answer. */
export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
  index?: number;
  [key: string]: unknown;
}

/** `generateContent` answer, and each `data:` event of `streamGenerateContent?alt=sse`. */
export interface GenerateContentResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string; blockReasonMessage?: string; [key: string]: unknown };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
  [key: string]: unknown;
}

/** Google API error JSON (`google.rpc.Status`). */
export interface GoogleErrorBody {
  error: {
    code?: number;
    message?: string;
    status?: string;
    details?: Array<{ '@type'?: string; [key: string]: unknown }>;
  };
}
