// The key-figures table (`element`; its table is re-rendered when the picked reports change, so
// the listeners sit on `element`).  A header's button sorts by its column (again: the other way);
// values sort by unit, then by number.  The search box hides the rows that do not hold its words.
// A row clicked, or Enter on it, shows its clause in its paragraph (#qa-figure-place, below the table).
const collator = new Intl.Collator('zh');
const keyOf = (row, col) => row.cells[col].dataset.sort;
const compare = {
  text: (a, b) => collator.compare(a, b),
  num: (a, b) => (a === '' ? Infinity : +a) - (b === '' ? Infinity : +b) || 0,
  value: (a, b) => {
    const [ua, na] = a.split('\t'), [ub, nb] = b.split('\t');
    return collator.compare(ua, ub) || compare.num(na, nb);
  },
};

function sortBy(button) {
  const table = button.closest('table');
  const th = button.closest('th');
  const col = +button.dataset.col;
  const ascending = th.getAttribute('aria-sort') !== 'ascending';
  for (const other of table.querySelectorAll('thead th')) other.setAttribute('aria-sort', 'none');
  th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
  const body = table.tBodies[0];
  const cmp = compare[button.dataset.type] || compare.text;
  const rows = [...body.rows].map((row, i) => [row, i]);
  rows.sort(([a, i], [b, j]) => (ascending ? 1 : -1) * cmp(keyOf(a, col), keyOf(b, col)) || i - j);
  body.append(...rows.map(([row]) => row));
}

function filter(input) {
  const words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const row of element.querySelectorAll('tbody tr')) {
    const text = row.textContent.toLowerCase();
    row.hidden = !words.every(w => text.includes(w));
    shown += !row.hidden;
  }
  const count = element.querySelector('.qa-fig-count');
  if (count) count.textContent = `${shown.toLocaleString()} 行 rows`;
}

async function open(row) {
  for (const r of element.querySelectorAll('tbody tr[aria-selected]')) r.removeAttribute('aria-selected');
  row.setAttribute('aria-selected', 'true');
  const d = row.dataset;
  const html = await server.figure_place([d.report, d.start, d.value]);
  if (row.getAttribute('aria-selected') !== 'true') return;      // another row was clicked meanwhile
  const place = element.querySelector('#qa-figure-place');
  place.innerHTML = html;
  const box = place.querySelector('.qa-fulltext');
  const mark = box && box.querySelector('mark');
  place.addEventListener('toggle', () => {
    if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.offsetTop - box.clientHeight / 3);
  }, {capture: true, once: true});
}

element.addEventListener('click', (event) => {
  const button = event.target.closest('thead button');
  if (button) return sortBy(button);
  const row = event.target.closest('tbody tr');
  if (row) open(row);
});
element.addEventListener('keydown', (event) => {
  const row = event.target.closest('tbody tr');
  if (row && event.key === 'Enter') open(row);
});
element.addEventListener('input', (event) => {
  if (event.target.id === 'qa-fig-search') filter(event.target);
});

// The CSV of the figures shown, made by the server when the button is pressed and saved by the
// browser (with a BOM, so spreadsheet programs read the Chinese): no file is kept on the server.
async function saveCsv(button) {
  button.disabled = true;
  try {
    const [name, text] = await server.figure_rows_csv(button.dataset.ids);
    const url = URL.createObjectURL(new Blob(['\ufeff' + text], {type: 'text/csv;charset=utf-8'}));
    const link = Object.assign(document.createElement('a'), {href: url, download: name});
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } finally {
    button.disabled = false;
  }
}
element.addEventListener('click', (event) => {
  const button = event.target.closest('#qa-figures-csv');
  if (button) saveCsv(button);
});
