"""The web chat's page, in parts: app.py (the entry point) starts it.

    shelf.py        the engine as the page reads it (reports, labels, answers, figures)
    texts.py        what the page says for each reason code of a refusal
    render.py       HTML for answers and their evidence, compare rows, figures in their place
    pdf.py          a citation on its PDF page
    charts.py       bar charts drawn by the browser
    chat.py         the chat tab (the conversation kept in the browser tab)
    compare.py      the compare tab
    figures_tab.py  the key-figures tab
    page.py         the header, the picker and upload, the tabs, the API
    page.css, page.js, chat.js, figures.js: the page's look and its scripts

Nothing in qa/ imports this package: the page renders, the engine decides.
"""
