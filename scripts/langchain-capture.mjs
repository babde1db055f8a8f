// LangChain JS through Switchyard, for scripts/langchain-capture.sh (issue 21 fixtures): tool
// calling and streaming through ChatOpenAI (Chat Completions, and the Responses API with
// `useResponsesApi: true`) and ChatAnthropic, a tool call then its result, against the gateway
// (through the recorder). Every client tags its requests with `x-capture-name`, so the recorded
// requests can be told apart. Exits non-zero when a call fails or no tool call comes back.
//   node scripts/langchain-capture.mjs <base-url> <api-key>
// Run with NODE_PATH pointing at a node_modules that has @langchain/openai, @langchain/anthropic
// and @langchain/core (the script installs nothing).
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [base, apiKey] = process.argv.slice(2);
if (!base || !apiKey) {
  console.error('usage: langchain-capture.mjs <base-url> <api-key>');
  process.exit(2);
}
const require = createRequire(join(process.env.LANGCHAIN_DIR ?? process.cwd(), 'noop.js'));
const { ChatOpenAI } = require('@langchain/openai');
const { ChatAnthropic } = require('@langchain/anthropic');
const { tool } = require('@langchain/core/tools');
const { HumanMessage, SystemMessage, ToolMessage } = require('@langchain/core/messages');
const { z } = require('zod');

const getWeather = tool(async ({ city }) => `Sunny and 21 °C in ${city}`, {
  name: 'get_weather',
  description: 'Weather of a city',
  schema: z.object({ city: z.string().describe('City name') }),
});

/** One client: a tool call (invoke), then the tool's result sent back (stream). */
async function run(name, model) {
  const bound = model.bindTools([getWeather]);
  const messages = [
    new SystemMessage('Be brief.'),
    new HumanMessage('Use get_weather: what is the weather in Paris?'),
  ];
  const first = await bound.invoke(messages);
  if (!first.tool_calls?.length)
    throw new Error(`${name}: no tool call in ${JSON.stringify(first)}`);
  const call = first.tool_calls[0];
  const result = await getWeather.invoke(call.args);
  const followUp = [
    ...messages,
    first,
    new ToolMessage({ content: result, tool_call_id: call.id }),
  ];
  let text = '';
  for await (const chunk of await bound.stream(followUp))
    text +=
      typeof chunk.content === 'string'
        ? chunk.content
        : chunk.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
  if (!text) throw new Error(`${name}: empty streamed answer`);
  console.log(`PASS ${name}: ${call.name}(${JSON.stringify(call.args)}) → ${text.slice(0, 80)}`);
}

const tag = (name) => ({ 'x-capture-name': name });
const clients = [
  [
    'langchain-openai-chat',
    new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey,
      temperature: 0,
      maxRetries: 0,
      configuration: { baseURL: `${base}/v1`, defaultHeaders: tag('langchain-openai-chat') },
    }),
  ],
  [
    'langchain-openai-responses',
    new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey,
      useResponsesApi: true,
      maxRetries: 0,
      configuration: { baseURL: `${base}/v1`, defaultHeaders: tag('langchain-openai-responses') },
    }),
  ],
  [
    'langchain-anthropic',
    new ChatAnthropic({
      model: 'claude-sonnet',
      apiKey,
      maxTokens: 300,
      maxRetries: 0,
      anthropicApiUrl: base,
      clientOptions: { defaultHeaders: tag('langchain-anthropic') },
    }),
  ],
];
let failed = 0;
for (const [name, model] of clients) {
  try {
    await run(name, model);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error?.message ?? error}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
