'use strict';
// Data saver: previews (images, video posters, thumbnails marked `.preview` or
// `data-preview`) stay hidden and unloaded until the person asks for each one.
// CSS hides them (see openrounds.css); lazy images that are not displayed are never
// fetched. This module adds one "Show preview" button per hidden preview.

/** @param {Element} preview */
function offerPreview(preview) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'secondary preview-ask';
  const label = preview.getAttribute('data-preview-label') || preview.getAttribute('alt') || '';
  // The label comes translated from the page (base.html), so no /jsi18n/ request is needed.
  const show = document.body.dataset.showPreview || 'Show preview';
  button.textContent = label ? `${show}: ${label}` : show;
  button.addEventListener('click', () => {
    preview.classList.add('preview-asked');
    button.remove();
  });
  preview.before(button);
}

if (document.body.classList.contains('data-saver')) {
  document.querySelectorAll('.preview, [data-preview]').forEach(offerPreview);
}
