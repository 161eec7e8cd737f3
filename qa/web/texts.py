"""What the page says when the engine says no: one bilingual line per reason code (e.code).

The page never shows the library's own messages for these (they name server paths and internals);
facts worth repeating come from the error's details.  A code not listed here falls back to the
error's English message under a general heading.
"""
from __future__ import annotations

from ..engine import MAX_QUESTION_CHARS
from ..ingest.readers import ACCEPTED, MAX_BYTES

MB = MAX_BYTES // 2**20

# A refused question, by code: (Chinese, English); {chars} and {limit} come from the error's details.
QUESTION = {
    "empty_question": ("请输入一个关于报告的问题。", "The question is empty: please type a question about the reports."),
    "question_too_long": ("问题太长（{chars:,} 字），请控制在 {limit} 字以内，一次问一个问题。",
                          "The question is {chars:,} characters long; please keep it under {limit} characters "
                          "(one question at a time)."),
    "bad_question": ("无法回答这个问题。", "This question cannot be asked."),
    "bad_k": ("检索段落数必须在 1 到 50 之间。", "The number of passages must be from 1 to 50."),
    "unknown_report": ("所选报告已不在资料库中，请刷新页面。", "A picked report is no longer in the library: reload the page."),
    "empty_library": ("资料库里还没有报告：请在上方「上传报告」添加（.txt、.pdf 或 .docx）。",
                      "The library has no reports yet: upload one above (.txt, .pdf or .docx)."),
    "rate_limited": ("提问太频繁，请 {wait} 秒后再试。", "Too many questions from you lately: please wait {wait} s."),
}
QUESTION_DEFAULTS = {"limit": MAX_QUESTION_CHARS, "chars": 0, "wait": 1}

# A declined question (Answer.reason): (Chinese, English); the engine's own words follow as a detail.
DECLINED = {
    "not_stated": ("报告中没有这个问题的答案。", "The report does not answer this question."),
    "no_content": ("这个问题没有问到报告里的具体内容，请换个问法。",
                   "The question asks about nothing a report could state: please ask about something in it."),
    "orphan_follow_up": ("这像是接着上一个问题问的，但前面没有可接的问题，请把问题问完整。",
                         "This reads as a follow-up, but there is no earlier question to follow: please ask it in full."),
    "place_not_in_library": ("报告中没有这个问题的答案：资料库里没有这个地方的报告。",
                             "The report does not answer this question: the library has no report about this place."),
    "year_not_covered": ("报告中没有这个问题的答案：资料库里没有这一年的报告。",
                         "The report does not answer this question: no report of the library covers this year."),
}

# A refused upload, by code: (Chinese, English), each after the file's name.
UPLOAD = {
    "file_too_large": (f"文件太大（上限 {MB} MB），请确认是报告文件。",
                       f"is over the {MB} MB limit: check that it is the report file."),
    "empty_file": ("文件是空的。", "is empty."),
    "unsupported_type": ("不支持 {suffix} 文件，只接受 .txt、.pdf、.docx。",
                         "is a {suffix} file, which the library does not read: upload a " + ACCEPTED + " file."),
    "not_text": ("不是文本文件，也不是报告（例如是图片）。", f"is not text (an image?): upload the report as {ACCEPTED}."),
    "not_chinese": ("看起来不是中文报告。", "does not look like a Chinese report."),
    "not_a_report": ("看起来不是政府工作报告。", "does not look like a government work report."),
    "unreadable_pdf": ("无法作为 PDF 读取：文件可能已损坏，或者并不是 PDF。",
                       "cannot be read as a PDF: it may be damaged, or not a PDF at all."),
    "pdf_password": ("PDF 有密码保护，请另存一份无密码的副本再上传。",
                     "is password-protected: save an unprotected copy and upload that."),
    "scanned_pdf": ("PDF 没有文字层（像是扫描件），需要先做文字识别（OCR）。",
                    "has no text layer (it looks scanned): it needs OCR first."),
    "unreadable_docx": ("无法作为 .docx 读取，请用 Word 或 WPS 重新另存为 .docx。",
                        "cannot be read as a .docx file: save it again as .docx in Word or WPS."),
    "report_too_long": ("文字太多，不像一份政府工作报告，请确认是报告文件。",
                        "has far more text than a government work report: check that it is the right file."),
    "unreadable_file": ("无法读取这个文件。", "cannot be read."),
    "not_a_file": ("不是普通文件。", "is not a regular file."),
    "store_error": ("资料库暂时无法写入，请稍后再试。", "could not be stored: the library cannot be written now; try again later."),
    "library_busy": ("资料库正被另一个程序修改，请稍后再试。",
                     "could not be stored: another program is changing the library; try again later."),
    "same_title_differs": ("资料库已有同名同年、内容不同的报告 {report}（{title}）。请选择：替换它，或两者都保留。",
                           "has the title and year of {report} ({title}) in the library, with another text: "
                           "replace that report, or keep both."),
    # Who may change the library (qa/web/access.py), and how often.
    "read_only": ("这个服务器上的资料库是只读的，不能在网页上添加或移除报告。",
                  "cannot be added: the library on this server is read-only."),
    "not_allowed": ("只有编辑可以添加或移除报告。", "cannot be added: only editors may add or remove reports."),
    "rate_limited": ("上传太频繁，请 {wait} 秒后再试。", "cannot be added now: too many uploads lately; wait {wait} s."),
}
# A change of the library from the page (a removal, an answer to an upload's question), refused.
CHANGE = {
    "unknown_report": ("这份报告已不在资料库中。", "This report is no longer in the library."),
    "read_only": ("这个服务器上的资料库是只读的，不能在网页上修改。", "The library on this server is read-only."),
    "not_allowed": ("只有编辑可以修改资料库。", "Only editors may change the library."),
    "library_busy": ("资料库正被另一个程序修改，请稍后再试。", "Another program is changing the library; try again later."),
}
NO_FILE = ("没有收到文件，请重试。", "No file arrived; please try again.")
INTERNAL = ("内部错误，请重试。", "Internal error; please try again.")


def question_refusal(error) -> tuple[str, str]:
    """(Chinese, English) for a refused question."""
    zh, en = QUESTION.get(error.code, (QUESTION["bad_question"][0], str(error)))
    facts = {**QUESTION_DEFAULTS, **getattr(error, "details", {})}
    return zh.format(**facts), en.format(**facts)


def upload_refusal(error, name: str) -> tuple[str, str]:
    """(Chinese, English) for a refused upload of the file `name`, without the library's wording."""
    zh, en = UPLOAD.get(error.code, ("无法添加这个文件。", "could not be added."))
    facts = {"suffix": "", "wait": 1, "report": "", "title": "", **getattr(error, "details", {})}
    facts["suffix"] = facts["suffix"] or "无扩展名 extensionless"
    return f"{name}：{zh.format(**facts)}", f"{name} {en.format(**facts)}"


def change_refusal(error) -> tuple[str, str]:
    """(Chinese, English) for a change of the library the server refused."""
    return CHANGE.get(error.code, ("无法修改资料库。", "The library could not be changed."))


def declined(reason: str) -> tuple[str, str]:
    """(Chinese, English) for an answer the engine declined, by its reason code."""
    return DECLINED.get(reason, DECLINED["not_stated"])
