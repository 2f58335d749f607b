"""One client interface for language models, shared by every feature that uses one
(the payment chat bot now, AI voting later): neutral messages in, text or JSON out,
with latency and cost. Adapters: Amazon Bedrock (Converse), OpenAI, Anthropic, Google
Gemini, and OpenAI-compatible local servers (Ollama, llama.cpp)."""
