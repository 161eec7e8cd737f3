"""The glossary is built from the real CC-CEDICT and the real report's words."""


def test_english_words_reach_the_reports_chinese(qa):
    g = qa.index.glossary
    assert {"经济", "增长"} <= set(g.translate("economic growth"))
    assert "生产总值" in g.translate("GDP")
    assert "洛阳" in g.translate("Luoyang")
    assert g.translate("the of what how many") == []


def test_only_words_the_report_uses_are_kept(qa):
    vocab = set(qa.retriever.vocab)
    assert all(w in vocab for words in qa.index.glossary.terms.values() for w in words)


def test_places_the_report_never_names_are_known(qa):
    g = qa.index.glossary
    assert g.names_elsewhere("What is Hubei's GDP growth target?")
    assert not g.names_elsewhere("What role is Luoyang expected to play?")
    assert not qa.ask("What is Hubei's GDP growth target for 2024?").found
