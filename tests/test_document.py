import re

import pytest

from qa.ingest.document import parse, read_report
from qa.engine import BUNDLED_REPORT
from qa.errors import ReportError


def test_no_character_lost_or_invented(doc):
    raw = BUNDLED_REPORT.read_text(encoding="utf-8")
    assert re.sub(r"\s", "", raw) == re.sub(r"\s", "", doc.text)


def test_words_split_across_lines_are_joined(doc):
    assert "习近平新时代" in doc.text
    assert "1324.9 亿斤" in doc.text
    assert "技术合同成交额增长 33.4%" in doc.text


def test_title_block(doc):
    titles = [doc.text[p.start:p.end] for p in doc.paragraphs if p.kind == "title"]
    assert titles == ["政府工作报告", "——2024 年 1 月 28 日在河南省第十四届人民代表大会第二次会议上",
                      "河南省人民政府省长 王凯"]
    assert doc.title == "政府工作报告"
    m = doc.meta
    assert (m.year, m.date, m.speaker, m.meeting) == (2024, "2024-01-28", "王凯", "河南省第十四届人民代表大会第二次会议")
    assert doc.text[slice(*m.spans["speaker"])] == "王凯"


def test_parts_and_standalone_sections(doc):
    parts = [doc.text[p.start:p.end] for p in doc.paragraphs if p.kind == "part"]
    assert parts == ["一、2023年工作回顾", "二、2024年工作总体要求和主要目标", "三、2024年重点工作安排"]
    sections = [p.section for p in doc.paragraphs if p.kind == "section"]
    assert len(sections) == 9 and sections[1] == "（二）构建现代化产业体系，推进新型工业化"


def _paragraph_starting(doc, prefix):
    hits = [p for p in doc.paragraphs if doc.text[p.start:p.end].startswith(prefix)]
    assert len(hits) == 1, prefix
    return hits[0]


@pytest.mark.parametrize("prefix, path", [
    ("现在，我代表省人民政府", ""),
    ("过去一年，面对深刻变化", "一、2023年工作回顾"),
    ("（一）经济运行整体向好。", "一、2023年工作回顾 › （一）经济运行整体向好"),
    ("（二）创新能力明显提升。", "一、2023年工作回顾 › （二）创新能力明显提升"),
    ("（七）民生事业全面进步。", "一、2023年工作回顾 › （七）民生事业全面进步"),
    ("一年来，我们以深入开展", "一、2023年工作回顾"),
    ("同时，我们也清醒认识到", "一、2023年工作回顾"),
    ("主要预期目标是：", "二、2024年工作总体要求和主要目标"),
    ("加快建设“三足鼎立”创新大格局。", "三、2024年重点工作安排 › （一）提升创新能级，建设国家创新高地"),
    ("新型材料产业集群。", "三、2024年重点工作安排 › （二）构建现代化产业体系，推进新型工业化"),
    ("促进投资提速增效。", "三、2024年重点工作安排 › （三）激发有潜能的消费，扩大有效益的投资"),
    ("持续完善社会保障体系。", "三、2024年重点工作安排 › （八）保障改善民生，不断增进人民福祉"),
    ("加强国防动员和后备力量建设", "三、2024年重点工作安排 › （九）守牢安全底线，促进高质量发展和高水平安全良性互动"),
    ("各位代表！肩鸿任钜初心磐", "三、2024年重点工作安排"),
])
def test_known_paragraphs_sit_in_their_section(doc, prefix, path):
    assert _paragraph_starting(doc, prefix).path == path


def test_paragraphs_are_rejoined_not_split_at_every_line(doc):
    body = [p for p in doc.paragraphs if p.kind == "body"]
    assert 55 <= len(body) <= 70          # the PDF has ~430 lines
    # A paragraph whose last line ends a sentence at the full width continues on the next line.
    para = _paragraph_starting(doc, "（五）改革开放深化拓展。")
    assert doc.text[para.start:para.end].endswith("成功举办全球豫商大会、中国侨商投资大会、第十四届投洽会等经贸活动。")


def test_lead_sentences(doc):
    assert _paragraph_starting(doc, "加快建设“三足鼎立”").lead == "加快建设“三足鼎立”创新大格局"
    assert _paragraph_starting(doc, "新型材料产业集群。").lead == "新型材料产业集群"
    assert _paragraph_starting(doc, "围绕建设制造业强省").lead == ""


def test_sentences_cover_body_text_and_end_with_punctuation(doc):
    for s in doc.sentences:
        text = doc.text[s.start:s.end]
        assert text and text.rstrip("”’）)")[-1] in "。！？：；" or s.end == doc.paragraphs[s.paragraph].end
    quote = "（二）创新能力明显提升。"
    assert any(doc.text[s.start:s.end] == quote for s in doc.sentences)


def test_missing_empty_and_binary_reports_are_clear_errors(tmp_path):
    with pytest.raises(ReportError, match="not found"):
        read_report(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("  \n\n", encoding="utf-8")
    with pytest.raises(ReportError, match="empty"):
        read_report(tmp_path / "empty.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ReportError, match="UTF-8"):
        read_report(tmp_path / "bin.txt")
    with pytest.raises(ReportError, match="no sentences"):
        parse("just a title\nand another line\n")
    with pytest.raises(ReportError, match="Cannot read"):
        read_report(tmp_path)           # a directory
