() => {
  // Esc empties the question box (Enter asks: the box submits on Enter, Shift+Enter starts a line).
  // The box's value is set through its input event, so the page's state sees the change.
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    const box = event.target.closest && event.target.closest('#qa-question textarea');
    if (!box || !box.value) return;
    box.value = '';
    box.dispatchEvent(new Event('input', {bubbles: true}));
  });
  // Enter in an empty box does nothing (as in other chats): a key pressed again after an answer
  // arrived must not send an empty question.  A box of spaces still goes, and gets its message.
  const emptyEnter = (event) => {
    const box = event.target.closest && event.target.closest('#qa-question textarea');
    if (box && event.key === 'Enter' && !event.shiftKey && box.value === '') {
      event.preventDefault();
      event.stopPropagation();
    }
  };
  document.addEventListener('keydown', emptyEnter, true);
  document.addEventListener('keypress', emptyEnter, true);
  // On a wide screen the question box takes the focus; on a phone it does not, because focusing
  // it would open the keyboard over the page.
  const focus = () => {
    const box = document.querySelector('#qa-question textarea');
    if (!box) return setTimeout(focus, 100);
    if (window.matchMedia('(min-width: 768px)').matches) box.focus({preventScroll: true});
  };
  focus();
}
