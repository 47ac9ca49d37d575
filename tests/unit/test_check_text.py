"""Which texts the runtime refuses, before any model reads them."""

from __future__ import annotations

from humanlike.detector.runtime import check_text


def test_check_text_says_why() -> None:
    assert check_text("A real sentence.", 100) is None
    assert check_text("déjà vu, naïve café", 100) is None
    assert check_text("   \n\t", 100) == "empty text"
    assert check_text(3, 100) == "expected a string, got int"
    assert check_text("x" * 101, 100) == "text has 101 characters, more than this model's limit of 100"
    # what JSON's "\\ud800" escape decodes to: a str no UTF-8 encoder (nor the tokenizer) accepts
    assert check_text("ab\ud800cd", 100) == "text is not valid Unicode: a lone surrogate at character 2"
