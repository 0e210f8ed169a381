"""Chinese tokens for lexical search: jieba (search mode) with the graph's vocabulary."""

from __future__ import annotations

import re
import unicodedata

import jieba

_TOKEN = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "是",
        "在",
        "我",
        "我们",
        "你",
        "您",
        "他",
        "她",
        "它",
        "这",
        "那",
        "就",
        "也",
        "都",
        "而",
        "及",
        "与",
        "或",
        "一个",
        "这个",
        "那个",
        "什么",
        "怎么",
        "如何",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "把",
        "被",
        "让",
        "给",
        "对",
        "向",
        "从",
        "到",
        "为",
        "为了",
        "以",
        "之",
        "其",
        "该",
        "有",
        "没有",
        "要",
        "会",
        "能",
        "可以",
        "还",
        "又",
        "请问",
        "一下",
        "该怎么",
        "怎么办",
        "怎样",
        "哪些",
        "哪个",
        "为什么",
    ]
)


def tokenize(text: str) -> list[str]:
    """Lower-cased jieba search-mode tokens, without punctuation and function words."""
    text = unicodedata.normalize("NFKC", text).lower()
    return [
        token
        for token in jieba.cut_for_search(text)
        if token.strip() and _TOKEN.search(token) and token not in STOPWORDS
    ]
