// The conversation's links and buttons (`element` is the conversation; its content is re-rendered
// after every turn, so the listeners sit on it and look at what was clicked).
// [n] opens that answer's citation n in place and brings it into view; a citation's buttons fetch
// the whole report text (scrolled to the quote) or the PDF page from the server.
element.addEventListener('click', async (event) => {
  const ref = event.target.closest('a.qa-ref');
  if (ref) {
    event.preventDefault();
    const cite = element.querySelector(ref.getAttribute('href'));
    if (!cite) return;
    cite.open = true;
    cite.classList.remove('qa-flash');
    void cite.offsetWidth;                 // restart the highlight animation
    cite.classList.add('qa-flash');
    cite.scrollIntoView({block: 'nearest'});
    cite.querySelector('summary').focus({preventScroll: true});
    return;
  }
  const button = event.target.closest('button.qa-more');
  if (!button) return;
  const out = button.closest('.qa-cite').querySelector('.qa-more-out');
  const d = button.dataset;
  button.disabled = true;
  out.innerHTML = '<div class="qa-empty">正在载入… Loading…</div>';
  try {
    out.innerHTML = await server.more_of_report([d.act, d.report, d.start, d.end, d.spanStart, d.spanEnd]);
  } catch (e) {
    out.innerHTML = '<div class="qa-empty">未能载入，请重试。 Could not load; please try again.</div>';
  }
  button.disabled = false;
  const box = out.querySelector('.qa-fulltext');
  const mark = box && box.querySelector('mark');
  if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.offsetTop - box.clientHeight / 3);
  out.scrollIntoView({block: 'nearest'});
});
