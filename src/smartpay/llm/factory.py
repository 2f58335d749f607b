"""Builds the configured LLM client from Settings (None: templates only, offline).

Adapter modules are imported only for the provider asked for, so ``none`` (and any
single provider) works without the other SDKs installed.
"""

from __future__ import annotations

from smartpay.config import Settings
from smartpay.llm.base import LlmClient

# Mirrors each adapter's DEFAULT_MODEL (tests/llm/test_factory.py checks they agree),
# kept here so that reading the defaults imports no SDK.
DEFAULT_MODELS = {
    "bedrock": "us.meta.llama3-2-1b-instruct-v1:0",
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.0-flash",
    "local": "llama3.2:1b",
}


def build_llm(settings: Settings) -> LlmClient | None:
    provider = settings.llm_provider
    if provider == "none":
        return None
    model = settings.llm_model or DEFAULT_MODELS[provider]
    timeout = settings.llm_timeout_seconds
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    try:
        if provider == "openai":
            from smartpay.llm.openai import OpenAiLlm

            return OpenAiLlm(
                api_key=_required(key, provider),
                model=model,
                base_url=settings.llm_base_url,
                timeout_seconds=timeout,
            )
        if provider == "anthropic":
            from smartpay.llm.anthropic import AnthropicLlm

            return AnthropicLlm(
                api_key=_required(key, provider),
                model=model,
                base_url=settings.llm_base_url,
                timeout_seconds=timeout,
            )
        if provider == "gemini":
            from smartpay.llm.gemini import GeminiLlm

            return GeminiLlm(
                api_key=_required(key, provider),
                model=model,
                base_url=settings.llm_base_url,
                timeout_seconds=timeout,
            )
        if provider == "bedrock":
            from smartpay.llm.bedrock import BedrockLlm, make_bedrock_client

            client = make_bedrock_client(
                region=settings.llm_region,
                timeout_seconds=timeout,
                endpoint_url=settings.llm_base_url,
            )
            return BedrockLlm(model=model, timeout_seconds=timeout, client=client)
        from smartpay.llm.openai_compatible import DEFAULT_BASE_URL, OpenAiCompatibleLlm

        return OpenAiCompatibleLlm(
            model=model,
            base_url=settings.llm_base_url or DEFAULT_BASE_URL,
            api_key=key,
            timeout_seconds=timeout,
            json_mode=settings.llm_json_mode,
        )
    except ImportError as exc:
        # Refuse to start rather than silently run without the model that was asked for.
        raise ValueError(
            f"SMARTPAY_LLM_PROVIDER={provider} needs the 'llm' extra "
            f"(pip install 'smartpay[llm]'): {exc.name} is not installed"
        ) from exc


def _required(key: str | None, provider: str) -> str:
    if not key:
        raise ValueError(f"SMARTPAY_LLM_PROVIDER={provider} needs SMARTPAY_LLM_API_KEY")
    return key
