"""Optional: an OpenAI-compatible chat endpoint rewrites the structured answer as fluent prose.

Off unless configured (``SKG_LLM_BASE_URL`` and ``SKG_LLM_MODEL``). The structured answer always
stands on its own: when the endpoint is absent, slow, failing, or returns text that lost the
citation markers, the polished text is simply not given.
"""

from __future__ import annotations

import logging
import re

import httpx

from retrieval.answers.answer import Answer

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "你是B2B销售助理。请把下面的结构化回答改写成销售代表可以直接照着讲的简洁中文，"
    "只能使用其中已有的事实，不得编造；每句话保留原有的引用编号，如[1]、[2]。"
)
_CITATION = re.compile(r"\[(\d+)\]")


class OpenAICompatiblePolisher:
    """POST {base_url}/chat/completions; any failure means no polished text."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 8.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        self._model = model

    def polish(self, answer: Answer) -> str | None:
        if not answer.citations:
            return None
        payload = {
            "model": self._model,
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": answer.to_text()},
            ],
        }
        try:
            response = self._client.post("/chat/completions", json=payload)
            response.raise_for_status()
            text = str(response.json()["choices"][0]["message"]["content"]).strip()
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            logger.warning("answer polishing failed, keeping the structured answer: %s", exc)
            return None
        cited = {int(n) for n in _CITATION.findall(text)}
        known = {c.number for c in answer.citations}
        if not cited or not cited <= known:
            logger.warning(
                "polished text lost or invented citations; keeping the structured answer"
            )
            return None
        return text
