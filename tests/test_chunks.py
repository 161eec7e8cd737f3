from qa.ingest.chunks import ChunkingParams, chunk_document


def test_chunks_follow_the_structure(doc):
    chunks = chunk_document(doc, report="henan")
    assert 80 <= len(chunks) <= 130
    for c in chunks[1:]:
        para = doc.paragraphs[c.paragraph]
        assert para.kind == "body", "heading-only chunks are not retrieval units"
        assert para.start <= c.start < c.end <= para.end, "a chunk never leaves its paragraph"
    cover = chunks[0]
    assert cover.text.startswith("政府工作报告") and cover.text.endswith("王凯"), "the cover page is one chunk"
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.section == doc.paragraphs[c.paragraph].path and c.report == "henan"
        assert len(c.text) <= ChunkingParams().hard_max


def test_headings_travel_as_context(doc):
    chunks = chunk_document(doc)
    c = next(c for c in chunks if "平顶山百万吨尼龙切片" in c.text)
    assert c.context.startswith("三、2024年重点工作安排 › （二）构建现代化产业体系，推进新型工业化")
    assert "新型材料产业集群" in c.context


def test_chunks_stay_well_under_the_model_limit(qa):
    tok = qa.embedder.st.tokenizer
    longest = max(len(tok(c.context)["input_ids"]) for c in qa.index.chunks)
    assert longest < 400
