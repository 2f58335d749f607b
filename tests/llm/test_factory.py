"""build_llm: the configured adapter from Settings, or None for templates only."""

from __future__ import annotations

import sys

import pytest

from smartpay.config import Settings
from smartpay.llm import anthropic, bedrock, gemini, openai, openai_compatible
from smartpay.llm.anthropic import AnthropicLlm
from smartpay.llm.bedrock import BedrockLlm
from smartpay.llm.factory import DEFAULT_MODELS, build_llm
from smartpay.llm.gemini import GeminiLlm
from smartpay.llm.openai import OpenAiLlm
from smartpay.llm.openai_compatible import OpenAiCompatibleLlm


@pytest.fixture(autouse=True)
def no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the arguments only; AWS credentials are fake and static so
    no lookup reaches the instance metadata endpoint."""
    for name in ("PROVIDER", "MODEL", "API_KEY", "BASE_URL", "REGION", "TIMEOUT_SECONDS"):
        monkeypatch.delenv(f"SMARTPAY_LLM_{name}", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_none_means_templates_only() -> None:
    assert build_llm(Settings(llm_provider="none")) is None


def test_the_default_models_are_the_adapters_defaults() -> None:
    assert DEFAULT_MODELS == {
        "bedrock": bedrock.DEFAULT_MODEL,
        "openai": openai.DEFAULT_MODEL,
        "anthropic": anthropic.DEFAULT_MODEL,
        "gemini": gemini.DEFAULT_MODEL,
        "local": openai_compatible.DEFAULT_MODEL,
    }


@pytest.mark.parametrize(
    ("provider", "adapter"),
    [("openai", OpenAiLlm), ("anthropic", AnthropicLlm), ("gemini", GeminiLlm)],
)
async def test_hosted_providers_get_key_model_and_timeout(
    provider: str, adapter: type[OpenAiLlm | AnthropicLlm | GeminiLlm]
) -> None:
    llm = build_llm(Settings(llm_provider=provider, llm_api_key="key-1", llm_timeout_seconds=3.5))
    assert isinstance(llm, adapter)
    assert llm.provider == provider
    assert llm.model == DEFAULT_MODELS[provider]
    assert llm.timeout_seconds == 3.5
    await llm.close()


async def test_model_and_base_url_settings_reach_the_sdk() -> None:
    llm = build_llm(
        Settings(
            llm_provider="openai",
            llm_api_key="key-1",
            llm_model="gpt-4.1-mini",
            llm_base_url="https://proxy.example/v1",
        )
    )
    assert isinstance(llm, OpenAiLlm)
    assert llm.model == "gpt-4.1-mini"
    assert str(llm._client.base_url) == "https://proxy.example/v1/"
    assert llm._client.max_retries == 0
    assert llm._client.api_key == "key-1"
    await llm.close()


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_hosted_providers_need_an_api_key(provider: str) -> None:
    with pytest.raises(ValueError, match="SMARTPAY_LLM_API_KEY"):
        build_llm(Settings(llm_provider=provider))


async def test_local_defaults_to_ollama_without_a_key() -> None:
    llm = build_llm(Settings(llm_provider="local", llm_json_mode="instruction"))
    assert isinstance(llm, OpenAiCompatibleLlm)
    assert llm.model == "llama3.2:1b"
    assert str(llm._client.base_url) == "http://127.0.0.1:11434/v1/"
    assert llm.json_mode == "instruction"
    await llm.close()


async def test_bedrock_gets_region_endpoint_and_one_attempt() -> None:
    llm = build_llm(
        Settings(
            llm_provider="bedrock",
            llm_region="eu-central-1",
            llm_base_url="https://vpce-1.bedrock-runtime.eu-central-1.vpce.amazonaws.com",
            llm_timeout_seconds=4,
        )
    )
    assert isinstance(llm, BedrockLlm)
    assert llm.model == "us.meta.llama3-2-1b-instruct-v1:0"
    client = llm._client
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.endpoint_url.startswith("https://vpce-1.")
    assert client.meta.config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert client.meta.config.read_timeout == 4
    await llm.close()


def test_a_missing_sdk_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import` raise ImportError, as if the extra were absent.
    monkeypatch.setitem(sys.modules, "smartpay.llm.anthropic", None)
    with pytest.raises(ValueError, match=r"smartpay\[llm\]"):
        build_llm(Settings(llm_provider="anthropic", llm_api_key="k"))
