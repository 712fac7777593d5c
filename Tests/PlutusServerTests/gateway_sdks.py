"""The official OpenAI and Anthropic Python SDKs, pointed at Plutus's gateway with their
normal base_url. Prints one JSON object of what each call returned; the Swift test that
runs this checks it against the ledger.

Environment: PLUTUS_URL (the server), PLUTUS_KEY (a key of an org with credit),
PLUTUS_BROKE_KEY (a key of an org without).
"""

import json
import os

import anthropic
import openai

base = os.environ["PLUTUS_URL"]
key = os.environ["PLUTUS_KEY"]
broke_key = os.environ["PLUTUS_BROKE_KEY"]
messages = [{"role": "user", "content": "Say hello"}]
out = {}

oa = openai.OpenAI(base_url=base + "/gateway/openai/v1", api_key=key, max_retries=0)

plain = oa.chat.completions.with_raw_response.create(
    model="gpt-5-mini", messages=messages, max_completion_tokens=100,
    extra_headers={"X-Plutus-Workspace": "sdk", "X-Plutus-Task": "greeting"})
completion = plain.parse()
out["openai_plain"] = {
    "content": completion.choices[0].message.content,
    "prompt_tokens": completion.usage.prompt_tokens,
    "completion_tokens": completion.usage.completion_tokens,
    "cost_header": plain.headers.get("x-plutus-cost-usd"),
    "event_header": plain.headers.get("x-plutus-event-id"),
}

text, usage_chunks = "", 0
for chunk in oa.chat.completions.create(model="gpt-5-mini", messages=messages, max_completion_tokens=100, stream=True):
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
    if chunk.usage is not None:
        usage_chunks += 1
out["openai_stream"] = {"content": text, "usage_chunks": usage_chunks}

response = oa.responses.create(model="gpt-5-mini", input="Say hello", max_output_tokens=50)
out["openai_responses"] = {"text": response.output_text, "output_tokens": response.usage.output_tokens}

streamed_usage = None
for event in oa.responses.create(model="gpt-5-mini", input="Say hello", max_output_tokens=50, stream=True):
    if event.type == "response.completed":
        streamed_usage = event.response.usage.output_tokens
out["openai_responses_stream"] = {"output_tokens": streamed_usage}

embedding = oa.embeddings.create(model="text-embedding-3-small", input="hello")
out["openai_embeddings"] = {"prompt_tokens": embedding.usage.prompt_tokens, "dimensions": len(embedding.data[0].embedding)}

an = anthropic.Anthropic(base_url=base + "/gateway/anthropic", api_key=key, max_retries=0)
message = an.messages.create(model="claude-sonnet-4-6", max_tokens=200, messages=messages)
out["anthropic_plain"] = {
    "content": message.content[0].text,
    "input_tokens": message.usage.input_tokens,
    "cache_read_input_tokens": message.usage.cache_read_input_tokens,
    "output_tokens": message.usage.output_tokens,
}
with an.messages.stream(model="claude-sonnet-4-6", max_tokens=200, messages=messages) as stream:
    streamed_text = "".join(stream.text_stream)
    final = stream.get_final_message()
out["anthropic_stream"] = {"content": streamed_text, "output_tokens": final.usage.output_tokens}

broke = openai.OpenAI(base_url=base + "/gateway/openai/v1", api_key=broke_key, max_retries=0)
try:
    broke.chat.completions.create(model="gpt-5-mini", messages=messages, max_completion_tokens=100)
    out["openai_refused"] = None
except openai.APIStatusError as error:
    out["openai_refused"] = {"status": error.status_code, "class": type(error).__name__, "message": error.message}

broke_an = anthropic.Anthropic(base_url=base + "/gateway/anthropic", api_key=broke_key, max_retries=0)
try:
    broke_an.messages.create(model="claude-sonnet-4-6", max_tokens=200, messages=messages)
    out["anthropic_refused"] = None
except anthropic.APIStatusError as error:
    out["anthropic_refused"] = {"status": error.status_code, "class": type(error).__name__, "message": error.message}

print(json.dumps(out))
