"""A PDF's lines, page by page, read in a process of its own with capped memory (readers.py runs it).

pdfium decompresses a page's content when it loads the page, all of it and in memory: a 1 MB
"flate bomb" took a server to 3 GB.  Nothing in the file says how large a stream will be before it is
decompressed, so the reading is done here, in a child process whose address space is capped
(RLIMIT_AS) and which the parent stops after a stated time; a bomb ends this process, never the
server.  Pages and characters are counted as they are read, and the reading stops at their limits.

Run as a script (`python -I <this file> MEMORY_BYTES MAX_PAGES MAX_CHARS`, the PDF's bytes on stdin):
it imports nothing of the qa package, so the child starts in ~0.1 s.  It prints one JSON object:
{"pages": [[[text, y], ...], ...]} or {"error": "password" | "unreadable" | "pages" | "chars", ...}.
"""
import json
import resource
import sys


def _height(textpage, text_index: int):
    """Vertical middle of the character at `text_index` of the extracted text.

    The loose box spans the font's full height, so every character on a line gives the same
    middle, whichever character (a digit of a page number) opens it.
    """
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    # pdfium may insert characters (line breaks) into the text that the page does not hold.
    char = pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, text_index)
    try:
        _, bottom, _, top = textpage.get_charbox(char, loose=True)
    except pdfium.PdfiumError:
        return None
    return (bottom + top) / 2


def page_lines(pdf, index: int, room: int):
    """The page's lines in the order the text layer gives them, each with its height; None when the
    page holds more than `room` characters (they are counted before any is extracted)."""
    page = pdf[index]
    textpage = page.get_textpage()
    try:
        if textpage.count_chars() > room:
            return None
        lines, offset = [], 0
        for raw in textpage.get_text_range().splitlines(keepends=True):
            text = raw.strip()
            if text:
                lead = len(raw) - len(raw.lstrip())
                lines.append((text, _height(textpage, offset + lead)))
            offset += len(raw)
        return lines
    finally:
        textpage.close()
        page.close()


def read(data: bytes, max_pages: int, max_chars: int) -> dict:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if getattr(e, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            return {"error": "password"}
        return {"error": "unreadable", "detail": str(e)}
    try:
        if len(pdf) > max_pages:
            return {"error": "pages", "pages": len(pdf)}
        pages, room = [], max_chars
        for i in range(len(pdf)):
            lines = page_lines(pdf, i, room)
            if lines is None:
                return {"error": "chars", "page": i + 1}
            room -= sum(len(text) for text, _ in lines)
            pages.append(lines)
        return {"pages": pages}
    except pdfium.PdfiumError as e:           # a damaged page
        return {"error": "unreadable", "detail": str(e)}
    finally:
        pdf.close()


def main() -> None:
    memory, max_pages, max_chars = (int(x) for x in sys.argv[1:4])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        out = read(sys.stdin.buffer.read(), max_pages, max_chars)
    except MemoryError:
        out = {"error": "memory"}
    sys.stdout.write(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
